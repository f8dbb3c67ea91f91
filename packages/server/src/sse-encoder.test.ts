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

  it('keeps the frames of recent events only, not one for every event a store still holds', () => {
    // MemoryJobStore keeps every event object until the job is deleted: a frame cached
    // for as long as its event lives would double what each finished job costs.
    const early = { ...completed, id: 1 };
    const frame = encodeEvent(early);
    for (let id = 2; id < 10_000; id++) encodeEvent({ ...completed, id });
    const again = encodeEvent(early);
    expect(again).not.toBe(frame);
    expect(again).toEqual(frame);
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

describe("the seed guide's event table (GENERATION_QUICK_START.md, 'Event Types Reference')", () => {
  // Each row: the event type and the key fields the guide's code reads from JSON.parse(e.data).
  const rows: [string, Record<string, unknown>, string[]][] = [
    [
      'job_created',
      { kind: 'course', ownerId: 'u', input: {}, steps: [], estimatedDuration: 90 },
      ['estimatedDuration'],
    ],
    [
      'step_started',
      { step: 'plan', stepIndex: 2, message: 'Planning' },
      ['step', 'stepIndex', 'message'],
    ],
    [
      'step_progress',
      { step: 'plan', progress: 40, stepProgress: 50, message: 'Half' },
      ['progress', 'message'],
    ],
    [
      'step_completed',
      { step: 'plan', stepIndex: 2, duration: 1200, message: 'Done' },
      ['duration', 'message'],
    ],
    [
      'topic_started',
      { topicName: 'Ethics', topicIndex: 1, topicCount: 4 },
      ['topicName', 'topicIndex'],
    ],
    ['topic_progress', { topicName: 'Ethics', progress: 30 }, ['topicName', 'progress']],
    [
      'topic_completed',
      { topicName: 'Ethics', topicIndex: 1, duration: 800, lessonsGenerated: 3 },
      ['lessonsGenerated', 'duration'],
    ],
    [
      'job_completed',
      { result: { courseId: 'c1' }, totalDuration: 5000 },
      ['courseId', 'totalDuration'],
    ],
    ['job_failed', { error: { message: 'boom' }, failedStep: 'plan' }, ['error', 'failedStep']],
    [
      'job_cancelled',
      { reason: 'User cancelled', cancelledAt: '2026-01-01T00:00:00.000Z' },
      ['reason', 'cancelledAt'],
    ],
  ];
  for (const [type, data, fields] of rows) {
    it(`${type} carries ${fields.join(', ')} at the top level`, () => {
      const event = { id: 3, jobId: 'j1', type, at: '2026-01-01T00:00:00.000Z', data } as JobEvent;
      const body = JSON.parse(eventJson(event, true));
      for (const field of fields) expect(body[field], field).toBeDefined();
      expect(body.type).toBe(type);
    });
  }
});
