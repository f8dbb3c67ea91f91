// An adapter author's test file, as docs/store-adapters.md shows it: the published
// conformance suite from @jobstream/core/testing, run by the app's own vitest. The
// "adapter" here is MemoryJobStore; the point is that the suite runs from the tarball.
import { MemoryJobStore } from '@jobstream/core';
import { runJobStoreConformance } from '@jobstream/core/testing';

runJobStoreConformance({
  name: 'MemoryJobStore',
  create: () => new MemoryJobStore(),
  cleanup: (store) => store.close(),
  listenerCount: (store) => store.listenerCount(),
});
