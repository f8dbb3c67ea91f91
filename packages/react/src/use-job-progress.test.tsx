// @vitest-environment jsdom

import { JobClientError } from '@jobstream/client';
import { act, cleanup, render, renderHook, waitFor } from '@testing-library/react';
import { StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { courseEvents, fakeClient } from '../tests/fake-client.js';
import { JobProgressModal } from './job-progress-modal.js';
import { JobClientProvider, useJobProgress } from './use-job-progress.js';

afterEach(cleanup);

describe('useJobProgress', () => {
  it('is idle without a job id and opens nothing', () => {
    const client = fakeClient();
    const { result } = renderHook(() => useJobProgress({ jobId: null, client }));
    expect(result.current.connection).toBe('idle');
    expect(result.current.progress.status).toBe('idle');
    expect(client.stats.watch).toBe(0);
  });

  it('opens one connection under StrictMode and closes it on unmount', async () => {
    const client = fakeClient();
    const { result, unmount } = renderHook(() => useJobProgress({ jobId: 'j1', client }), {
      wrapper: StrictMode,
    });
    expect(client.stats.open).toBe(1);
    expect(client.stats.watch).toBe(1);
    const ev = courseEvents('j1');
    act(() =>
      client.job('j1').push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0, 'Hi')),
    );
    expect(result.current.progress).toMatchObject({
      status: 'running',
      currentStep: 'fetch_questions',
      message: 'Hi',
      totalSteps: 3,
    });
    unmount();
    await waitFor(() => expect(client.stats.close).toBe(1));
  });

  it('shares one watcher between components of the same job', async () => {
    const client = fakeClient();
    const { unmount } = render(
      <StrictMode>
        <Probe client={client} />
        <Probe client={client} />
      </StrictMode>,
    );
    expect(client.stats.open).toBe(1);
    unmount();
    await waitFor(() => expect(client.stats.close).toBe(client.stats.watch));
  });

  it('follows a new job id and releases the old one', async () => {
    const client = fakeClient();
    const { result, rerender } = renderHook(({ id }) => useJobProgress({ jobId: id, client }), {
      initialProps: { id: 'a' as string | null },
    });
    const a = courseEvents('a');
    act(() => client.job('a').push(a.created()));
    expect(result.current.progress.job?.id).toBe('a');
    rerender({ id: 'b' });
    expect(result.current.progress.status).toBe('idle');
    await waitFor(() => expect(client.stats.close).toBe(1));
    rerender({ id: null });
    await waitFor(() => expect(client.stats.close).toBe(2));
    expect(result.current.connection).toBe('idle');
  });

  it('fires onComplete once per job across re-renders and replays, with the latest callback', () => {
    const client = fakeClient();
    const first = vi.fn();
    const second = vi.fn();
    const { rerender } = renderHook(
      ({ cb }) => useJobProgress({ jobId: 'j', client, onComplete: cb }),
      {
        initialProps: { cb: first },
        wrapper: StrictMode,
      },
    );
    rerender({ cb: second });
    const ev = courseEvents('j');
    const all = [ev.created(), ev.started(), ev.completed({ courseId: 'c1' })];
    act(() => client.job('j').push(...all));
    act(() => client.job('j').push(...all));
    rerender({ cb: second });
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
    expect(second.mock.calls[0]?.[0]).toEqual({ courseId: 'c1' });
  });

  it("reports a failed job once, printable the way the seed's alert prints it", () => {
    const client = fakeClient();
    const onError = vi.fn();
    renderHook(() => useJobProgress({ jobId: 'f', client, onError }), { wrapper: StrictMode });
    const ev = courseEvents('f');
    const all = [
      ev.created(),
      ev.started(),
      ev.stepStarted('fetch_questions', 1),
      ev.failed('Invalid API key', 'fetch_questions'),
    ];
    act(() => client.job('f').push(...all));
    act(() => client.job('f').push(...all));
    expect(onError).toHaveBeenCalledTimes(1);
    const error = onError.mock.calls[0]?.[0];
    expect(error).toEqual({
      message: 'Invalid API key',
      code: 'model_error',
      step: 'fetch_questions',
    });
    expect(`Generation failed: ${error}`).toBe('Generation failed: Invalid API key');
  });

  it('reports a job that cannot be followed through onError', () => {
    const client = fakeClient();
    const onError = vi.fn();
    renderHook(() => useJobProgress({ jobId: 'gone', client, onError }));
    const failure = new JobClientError('http', 'Job gone does not exist.', {
      status: 404,
      code: 'not_found',
    });
    act(() => {
      const job = client.job('gone');
      job.snapshot = { ...job.snapshot, connection: 'closed', error: failure };
      job.setConnection('closed');
    });
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBe(failure);
  });

  it('takes its client from JobClientProvider and forwards cancel and resume', async () => {
    const client = fakeClient();
    const { result } = renderHook(() => useJobProgress({ jobId: 'p' }), {
      wrapper: ({ children }) => <JobClientProvider client={client}>{children}</JobClientProvider>,
    });
    await act(() => result.current.cancelJob('changed my mind'));
    await act(() => result.current.resumeJob());
    expect(client.job('p').cancelled).toEqual(['changed my mind']);
    expect(client.job('p').resumed).toBe(1);
  });

  it('renders on the server without opening anything', () => {
    const client = fakeClient();
    const html = renderToString(
      <JobProgressModal jobId="ssr" client={client} title="Generating" onClose={() => {}} />,
    );
    expect(html).toContain('role="dialog"');
    expect(html).toContain('Generating');
    expect(client.stats.watch).toBe(0);
  });

  it('renders on the server from a baseUrl without fetching', () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    try {
      const html = renderToString(
        <JobProgressModal jobId="ssr" baseUrl="/api/generation" onClose={() => {}} />,
      );
      expect(html).toContain('aria-modal="true"');
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
  });
});

function Probe({ client }: { client: ReturnType<typeof fakeClient> }) {
  useJobProgress({ jobId: 'j', client });
  return null;
}

it('runs on the React version this suite was started for', async () => {
  const expected = process.env.JOBSTREAM_EXPECT_REACT ?? '19';
  const { createRequire } = await import('node:module');
  // What @testing-library/react itself loads (it requires react-dom).
  const rtl = createRequire(createRequire(import.meta.url).resolve('@testing-library/react'));
  expect((await import('react')).version.split('.')[0]).toBe(expected);
  expect(rtl('react-dom').version.split('.')[0]).toBe(expected);
  expect(rtl('react').version.split('.')[0]).toBe(expected);
});
