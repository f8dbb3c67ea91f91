/**
 * Runs async sections one at a time per key, in call order, in this process. The
 * per-owner active-job limit holds its check and its create under it, so concurrent
 * starts by one owner cannot all pass the check before any of them has created a job.
 * Idle keys are dropped, so the map holds only owners with a section in flight.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    return previous.then(section).finally(() => {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
  }

  /** Keys with a section running or waiting (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
