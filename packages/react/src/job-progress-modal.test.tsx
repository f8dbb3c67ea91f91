// @vitest-environment jsdom

import { JobClientError } from '@jobstream/client';
import { act, cleanup, configure, fireEvent, render, screen, within } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { courseEvents, fakeClient } from '../tests/fake-client.js';
import { JobProgressModal } from './job-progress-modal.js';

afterEach(cleanup);
// Text queries look at what is shown; the live region repeats it for screen readers and is
// checked through its role.
configure({ defaultIgnore: 'script, style, .jsp-sr[role=status]' });

function setup(jobId = 'job-1') {
  const client = fakeClient();
  const ev = courseEvents(jobId);
  const onClose = vi.fn();
  const onComplete = vi.fn();
  const onError = vi.fn();
  const utils = render(
    <>
      <button type="button">Open</button>
      <JobProgressModal
        jobId={jobId}
        client={client}
        title="Generating your course"
        onClose={onClose}
        onComplete={onComplete}
        onError={onError}
      />
    </>,
  );
  const job = client.job(jobId);
  const push = (...e: Parameters<typeof job.push>) => act(() => job.push(...e));
  return { ...utils, client, ev, job, push, onClose, onComplete, onError };
}

const stepItem = (label: string) =>
  within(screen.getByRole('list', { name: 'Steps' }))
    .getByText(label, { exact: false })
    .closest('li');
const stepState = (label: string) => stepItem(label)?.getAttribute('data-status');

describe('<JobProgressModal>', () => {
  it('is a labelled modal dialog that shows the job as it advances', () => {
    const { ev, push, job } = setup();
    const dialog = screen.getByRole('dialog', { name: 'Generating your course' });
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(screen.getByRole('status').textContent).toBe('Connecting…');

    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0, 'Reading 40 questions'));
    act(() => job.setConnection('open'));
    expect(dialog.querySelector('.jsp-conn')?.textContent).toBe('Connected');
    expect(screen.getByRole('status').textContent).toBe('Step 1 of 3: Reading questions');
    expect(screen.getByText('Step 1 of 3: Reading questions')).toBeTruthy();
    expect(screen.getByText('Reading 40 questions')).toBeTruthy();
    expect(stepState('Reading questions')).toBe('running');
    expect(stepState('Writing lessons')).toBe('pending');
    // State is in words too, not only in the mark's colour.
    expect(stepItem('Reading questions')?.textContent).toContain('(in progress)');

    push(
      ev.stepCompleted('fetch_questions', 0, 2400),
      ev.stepStarted('generate_lessons', 1),
      ev.topicStarted('Cardiology', 3, 8),
      ev.stepProgress('generate_lessons', 41.6, 52, 'Writing lesson 2'),
    );
    const bar = screen.getByRole('progressbar', { name: 'Overall progress' });
    expect(bar.getAttribute('aria-valuenow')).toBe('42');
    // A screen reader says where the job is, not only a number.
    expect(bar.getAttribute('aria-valuetext')).toBe('42% — Step 2 of 3: Writing lessons');
    // The dialog is described by the same stage line, read out when focus moves in.
    const described = document.getElementById(dialog.getAttribute('aria-describedby')!);
    expect(described?.textContent).toBe('Step 2 of 3: Writing lessons');
    expect(screen.getByText('Topic 3 of 8: Cardiology')).toBeTruthy();
    expect(screen.getByText('Writing lesson 2')).toBeTruthy();
    expect(stepState('Reading questions')).toBe('completed');
    expect(stepItem('Reading questions')?.textContent).toContain('(done)2s');
    expect(screen.getByText(/^Elapsed [\d:]+$/)).toBeTruthy();
    expect(screen.getByText(/^About .* left$|^Almost done$/)).toBeTruthy();

    act(() => job.setConnection('reconnecting'));
    expect(screen.getByRole('status').textContent).toBe('Reconnecting…');
  });

  it('announces the step, topic and outcome in one polite live region, not each progress tick', () => {
    const { ev, push, job } = setup();
    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0, 'Reading 40 questions'));
    act(() => job.setConnection('open'));
    const live = () => screen.getAllByRole('status');
    expect(live()).toHaveLength(1);
    expect(document.querySelectorAll('[aria-live]:not([aria-live=off]),[role=log]')).toHaveLength(
      0,
    );
    const region = live()[0]!;
    push(ev.stepCompleted('fetch_questions', 0, 2400), ev.stepStarted('generate_lessons', 1));
    push(ev.topicStarted('Cardiology', 3, 8));
    expect(region.textContent).toBe('Step 2 of 3: Writing lessons. Topic 3 of 8: Cardiology');
    // Progress ticks and their messages leave it alone (no flood of announcements).
    const announced = region.textContent;
    for (const pct of [10, 20, 30]) {
      push(ev.stepProgress('generate_lessons', pct, pct, `Writing lesson ${pct}`));
      expect(region.textContent).toBe(announced);
    }
    act(() => job.setConnection('reconnecting'));
    expect(region.textContent).toBe('Reconnecting…');
    act(() => job.setConnection('open'));
    push(ev.completed({ courseId: 'c-1' }));
    // Still the same element (a region inserted with its text is often not read out).
    expect(live()).toEqual([region]);
    expect(region.textContent).toMatch(/^Done in /);
  });

  it('cancels only after confirmation, and closing never cancels', () => {
    const { ev, push, job, onClose } = setup();
    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0));

    fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    expect(onClose).toHaveBeenCalledTimes(2);

    fireEvent.click(screen.getByRole('button', { name: 'Cancel job' }));
    expect(job.cancelled).toEqual([]);
    const keep = screen.getByRole('button', { name: 'Keep going' });
    expect(document.activeElement).toBe(keep);
    fireEvent.click(keep);
    expect(job.cancelled).toEqual([]);
    // Backing out gives focus back to the button that opened the confirmation.
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Cancel job' }));

    fireEvent.click(screen.getByRole('button', { name: 'Cancel job' }));
    // Escape backs out of the confirmation, not out of the dialog.
    fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    expect(onClose).toHaveBeenCalledTimes(2);
    expect(job.cancelled).toEqual([]);
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Cancel job' }));

    fireEvent.click(screen.getByRole('button', { name: 'Cancel job' }));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, cancel job' }));
    expect(job.cancelled).toEqual([undefined]);
  });

  it('drops the cancel question when the job ends while it is open', () => {
    const { ev, push } = setup();
    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0));
    fireEvent.click(screen.getByRole('button', { name: 'Cancel job' }));
    expect(screen.getByRole('button', { name: 'Yes, cancel job' })).toBeTruthy();
    push(ev.cancelled('Cancelled from another tab'));
    expect(screen.queryByRole('button', { name: 'Yes, cancel job' })).toBeNull();
    expect(screen.queryByText(/^Cancel this job\?/)).toBeNull();
    // Focus stays in the dialog, on what is left to do.
    expect(screen.getByRole('dialog').contains(document.activeElement)).toBe(true);
    expect(screen.getByText('Cancelled: Cancelled from another tab')).toBeTruthy();
  });

  it('says why when the client gives up, instead of a frozen "Offline"', () => {
    const { job } = setup();
    // A job that is not there (a restarted in-memory server, someone else's id).
    act(() =>
      job.setConnection(
        'closed',
        new JobClientError('http', 'There is no job job-1.', { status: 404, code: 'not_found' }),
      ),
    );
    expect(screen.getByRole('alert').textContent).toBe('There is no job job-1.');
    cleanup();

    // A running job whose reconnection is refused (the session expired).
    const second = setup('job-2');
    second.push(
      second.ev.created(),
      second.ev.started(),
      second.ev.stepStarted('fetch_questions', 0),
    );
    expect(screen.queryByRole('alert')).toBeNull();
    act(() =>
      second.job.setConnection(
        'closed',
        new JobClientError('http', 'Sign in to use this endpoint.', { status: 401 }),
      ),
    );
    expect(screen.getByRole('alert').textContent).toBe('Sign in to use this endpoint.');
  });

  it('shows the cancelled state', () => {
    const { ev, push } = setup();
    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0), ev.cancelled('User'));
    expect(screen.getByText('Cancelled: User')).toBeTruthy();
    expect(stepState('Reading questions')).toBe('cancelled');
    expect(screen.queryByRole('button', { name: 'Cancel job' })).toBeNull();
  });

  it('shows a failure with its error and a resume action, and reports it once', () => {
    const { ev, push, job, onError } = setup();
    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0));
    push(ev.failed('The model is overloaded', 'fetch_questions'));
    expect(screen.getByRole('alert').textContent).toBe('The model is overloaded');
    expect(stepState('Reading questions')).toBe('failed');
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ message: 'The model is overloaded' });
    act(() => job.setConnection('closed'));
    expect(onError).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('button', { name: 'Resume' }));
    expect(job.resumed).toBe(1);
  });

  it('keeps focus on Resume while it is pending and after it fails, never on <body>', async () => {
    const { ev, push, job } = setup();
    push(ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0));
    push(ev.failed('The model is overloaded', 'fetch_questions'));
    let refuse!: (error: Error) => void;
    job.resumeAnswer = new Promise((_, reject) => {
      refuse = reject;
    });
    const resume = screen.getByRole('button', { name: 'Resume' });
    resume.focus();
    fireEvent.click(resume);
    // Pending: marked busy for assistive technology but still focusable, and not sent twice.
    expect(resume.getAttribute('aria-disabled')).toBe('true');
    expect((resume as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(resume);
    expect(job.resumed).toBe(1);
    await act(async () => refuse(new Error('Resume refused: the job is gone')));
    expect(screen.getByText('Resume refused: the job is gone')).toBeTruthy();
    expect(document.activeElement).toBe(resume);
    expect(resume.getAttribute('aria-disabled')).toBeNull();
  });

  it('calls onComplete once with the result, however often it re-renders or replays', () => {
    const { ev, push, job, onComplete } = setup();
    const events = [ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0)];
    push(...events);
    const done = ev.completed({ courseId: 'c-9' });
    push(done);
    push(done); // a replayed frame
    act(() => job.setConnection('closed'));
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(onComplete.mock.calls[0]?.[0]).toEqual({ courseId: 'c-9' });
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    expect(screen.getByText(/^Done in /)).toBeTruthy();
  });

  it('traps focus inside and gives it back on close', () => {
    const client = fakeClient();
    render(<App client={client} />);
    const opener = screen.getByRole('button', { name: 'Open' });
    opener.focus();
    fireEvent.click(opener);
    const dialog = screen.getByRole('dialog');
    expect(document.activeElement).toBe(dialog);
    act(() => client.job('j').push(...firstEvents('j')));
    const buttons = within(dialog).getAllByRole('button');
    const first = buttons[0]!;
    const last = buttons[buttons.length - 1]!;
    last.focus();
    fireEvent.keyDown(last, { key: 'Tab' });
    expect(document.activeElement).toBe(first);
    fireEvent.keyDown(first, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(last);
    fireEvent.keyDown(last, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it('injects the default stylesheet once, unless unstyled', () => {
    const client = fakeClient();
    render(
      <>
        <JobProgressModal jobId="a" client={client} onClose={() => {}} />
        <JobProgressModal jobId="b" client={client} onClose={() => {}} />
      </>,
    );
    const styles = document.querySelectorAll('style#jobstream-progress-css');
    expect(styles.length).toBe(1);
    expect(styles[0]?.textContent).toContain('prefers-reduced-motion');
    cleanup();
    styles[0]?.remove();
    render(<JobProgressModal jobId="a" client={client} unstyled onClose={() => {}} />);
    expect(document.querySelector('style#jobstream-progress-css')).toBeNull();
  });
});

function firstEvents(jobId: string) {
  const ev = courseEvents(jobId);
  return [ev.created(), ev.started(), ev.stepStarted('fetch_questions', 0)];
}

function App({ client }: { client: ReturnType<typeof fakeClient> }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Open
      </button>
      {open && <JobProgressModal jobId="j" client={client} onClose={() => setOpen(false)} />}
    </>
  );
}
