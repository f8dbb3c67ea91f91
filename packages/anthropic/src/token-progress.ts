/** Below this share of the budget a running call stays until its message ends. */
const RUNNING_CAP = 0.99;

export interface TokenProgressOptions {
  /** Output tokens the call is expected to produce; progress is tokens / this. */
  expectedTokens: number;
  /** Step progress (0–100) where this call starts and ends. @default [0, 100] */
  span?: readonly [number, number];
  /** Characters counted as one token while the real count is not known yet. @default 4 */
  charsPerToken?: number;
  /** Step progress already shown; nothing at or below it is reported. @default 0 */
  floor?: number;
}

/**
 * Turns streamed output into step progress that only goes forward and stays below
 * the end of its span (99 of 100 by default) until the message ends.
 *
 * The API reports the output token count only in `message_delta`, near the end, so
 * while text streams the count is estimated from characters; a reported count that
 * is higher wins. A retried request starts counting again (`restart()`), while the
 * progress already shown stays where it was.
 */
export class TokenProgress {
  readonly expectedTokens: number;
  readonly #from: number;
  readonly #to: number;
  readonly #charsPerToken: number;
  #chars = 0;
  #reportedTokens = 0;
  #shown: number;

  constructor(options: TokenProgressOptions) {
    const [from, to] = options.span ?? [0, 100];
    if (!(from >= 0 && to <= 100 && from <= to)) {
      throw new RangeError(
        `span must be [from, to] with 0 <= from <= to <= 100, got [${from}, ${to}].`,
      );
    }
    if (!(options.expectedTokens > 0) || !Number.isFinite(options.expectedTokens)) {
      throw new RangeError(
        `expectedTokens must be a positive number, got ${options.expectedTokens}.`,
      );
    }
    const charsPerToken = options.charsPerToken ?? 4;
    if (!(charsPerToken > 0)) throw new RangeError('charsPerToken must be positive.');
    this.expectedTokens = options.expectedTokens;
    this.#from = from;
    this.#to = to;
    this.#charsPerToken = charsPerToken;
    this.#shown = options.floor ?? 0;
  }

  /** Output tokens received so far in this attempt (estimated until the API says). */
  get tokens(): number {
    return Math.max(Math.round(this.#chars / this.#charsPerToken), this.#reportedTokens);
  }

  /** The highest step progress reported so far. */
  get shown(): number {
    return this.#shown;
  }

  addText(text: string): void {
    this.#chars += text.length;
  }

  reportTokens(outputTokens: number): void {
    if (Number.isFinite(outputTokens)) {
      this.#reportedTokens = Math.max(this.#reportedTokens, outputTokens);
    }
  }

  /** A new attempt: counting starts again, what was shown is kept. */
  restart(): void {
    this.#chars = 0;
    this.#reportedTokens = 0;
  }

  /**
   * The step progress to report now, or null when it would not move forward.
   * `ended` lets it reach the end of the span.
   */
  next(ended = false): number | null {
    const share = ended ? 1 : Math.min(this.tokens / this.expectedTokens, RUNNING_CAP);
    // One decimal: finer steps would only churn the coalescer.
    const value = Math.floor((this.#from + (this.#to - this.#from) * share) * 10) / 10;
    const capped = ended
      ? this.#to
      : Math.min(value, this.#from + (this.#to - this.#from) * RUNNING_CAP);
    if (capped <= this.#shown) return null;
    this.#shown = capped;
    return capped;
  }
}
