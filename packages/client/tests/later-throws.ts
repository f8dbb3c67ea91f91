import { vi } from 'vitest';

/**
 * Catches what the client rethrows on a later task (a listener's bug it must not let end
 * the stream: `setTimeout(() => { throw error })`), which would otherwise reach the
 * page's or the test runner's uncaught-error handler. `restore()` puts setTimeout back.
 */
export function catchLaterThrows() {
  const thrown: unknown[] = [];
  const original = globalThis.setTimeout;
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    fn: () => void,
    ms?: number,
  ) =>
    original(() => {
      try {
        fn();
      } catch (error) {
        thrown.push(error);
      }
    }, ms)) as typeof setTimeout);
  return { thrown, original, restore: () => spy.mockRestore() };
}
