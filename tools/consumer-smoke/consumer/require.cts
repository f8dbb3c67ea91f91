// A CommonJS TypeScript file (.cts under node16): require() resolves the .d.cts types.
import core = require('@jobstream/core');
import client = require('@jobstream/client');
import server = require('@jobstream/server');

const store: core.JobStore = new core.MemoryJobStore();
const jobs = client.createJobClient({ baseUrl: 'http://127.0.0.1:3000/api/generation' });
const defined = server.defineJob({
  kind: 'k',
  input: { '~standard': { version: 1, vendor: 'x', validate: (value: unknown) => ({ value }) } },
  steps: ['a'],
  run: () => 1,
});
export = { store, jobs, defined };
