import type Anthropic from '@anthropic-ai/sdk';
import type { ProgressTracker } from '@jobstream/core';
import { expectTypeOf, test } from 'vitest';
import {
  type ModelUsage,
  type StepTracker,
  type StreamMessageResult,
  streamMessage,
} from './index.js';

test('any ProgressTracker, however typed, is a StepTracker', () => {
  expectTypeOf<
    ProgressTracker<{ examId: string }, { courseId: string }, 'outline' | 'lessons'>
  >().toExtend<StepTracker>();
  expectTypeOf<ProgressTracker>().toExtend<StepTracker>();
});

test('the result carries the SDK message and JSON-ready usage', () => {
  expectTypeOf(streamMessage).returns.resolves.toEqualTypeOf<StreamMessageResult>();
  expectTypeOf<StreamMessageResult['message']>().toEqualTypeOf<Anthropic.Message>();
  expectTypeOf<StreamMessageResult['usage']>().toEqualTypeOf<ModelUsage>();
  // Usage goes into a step's meta, which is Record<string, unknown>.
  expectTypeOf<{ usage: ModelUsage }>().toExtend<Record<string, unknown>>();
});

test('params are the SDK stream params: a wrong field does not compile', () => {
  const tracker = {} as StepTracker;
  const client = {} as Anthropic;
  const withoutMaxTokens = { model: 'claude-sonnet-4-6', messages: [] };
  // @ts-expect-error max_tokens is required by the Messages API
  void streamMessage(tracker, { client, params: withoutMaxTokens });
  const params = { model: 'claude-sonnet-4-6', max_tokens: 1, messages: [] };
  const span = [1] as const;
  // @ts-expect-error span is a pair of numbers
  void streamMessage(tracker, { client, params, span });
});
