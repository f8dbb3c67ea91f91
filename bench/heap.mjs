// What the memory benches measure: the JS heap plus array buffers after forced GCs (run
// node with --expose-gc). Encoded SSE frames are Uint8Arrays, whose bytes live outside
// the JS heap, in arrayBuffers.
export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function heap() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await pause(20);
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}
