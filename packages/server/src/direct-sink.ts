/**
 * A shortcut between our SSE streams and our Node adapter. A Web `ReadableStream`
 * costs a few promises per chunk; with thousands of viewers that is most of the CPU of
 * fan-out. So a stream made by this package carries, under this symbol, a function
 * that lets the adapter take the frames directly, with the same backpressure contract:
 * `write` returns false when the socket is full, and the adapter calls `resume` on
 * `drain`. Other runtimes (and other readers) simply read the stream.
 */
export const DIRECT_SINK: unique symbol = Symbol.for('jobstream.directSink') as never;

export interface DirectSink {
  /** Writes a chunk; false means "full: wait for `resume()`". */
  write(chunk: Uint8Array): boolean;
  /** The stream ended normally (after a terminal event). */
  end(): void;
  /** The stream was cut (a stalled client, a store failure): drop the connection. */
  destroy(): void;
}

export interface DirectControls {
  /** The socket drained: send what queued up meanwhile. */
  resume(): void;
  /** The client went away. */
  cancel(): void;
}

export type AttachDirectSink = (sink: DirectSink) => DirectControls;
