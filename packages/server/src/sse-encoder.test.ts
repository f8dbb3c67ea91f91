import type { JobEvent } from '@jobstream/core';
import { describe, expect, it } from 'vitest';
import { encodeEvent, encodeFrame, eventJson } from './sse-encoder.js';

const completed = {
  id: 9,
  jobId: 'j1',
  type: 'job_completed',
  at: '2026-01-01T00:00:00.000Z',
  data: { result: { courseId: 'c1', id: 'not-the-event-id' }, totalDuration: 5 },
} as JobEvent;

describe('encodeFrame', () => {
  it('refuses CR or LF in id, event and comment', () => {
    expect(() => encodeFrame({ id: '1\n2' })).toThrow(/CR or LF/);
    expect(() => encodeFrame({ event: 'a\rdata: x' })).toThrow(/CR or LF/);
    expect(() => encodeFrame({ comment: 'x\n' })).toThrow(/CR or LF/);
  });

  it('never writes a raw newline inside data', () => {
    expect(encodeFrame({ data: 'a\nb\r\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
  });

  it('writes id, event and one data line of JSON per event, encoded once', () => {
    const text = new TextDecoder().decode(encodeEvent(completed));
    expect(text.split('\n')).toEqual([
      'id: 9',
      'event: job_completed',
      `data: ${eventJson(completed, true)}`,
      '',
      '',
    ]);
    expect(encodeEvent(completed)).toBe(encodeEvent(completed));
  });

  it('copies payload and result fields to the top level without touching the envelope', () => {
    const body = JSON.parse(eventJson(completed, true));
    expect(body).toMatchObject({ id: 9, jobId: 'j1', courseId: 'c1', totalDuration: 5 });
    expect(JSON.parse(eventJson(completed, false))).toEqual({
      id: 9,
      jobId: 'j1',
      type: 'job_completed',
      at: completed.at,
      data: completed.data,
    });
  });
});
