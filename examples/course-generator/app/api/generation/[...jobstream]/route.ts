// Every /api/generation/* route of the seed app: start, process, stream/:jobId, cancel,
// resume, status/:jobId — served by @jobstream/server.
import { toNextHandlers } from '@jobstream/server';
import { getJobServer } from '@/lib/job-server';

export const { GET, POST, OPTIONS } = toNextHandlers({
  handle: async (request) => (await getJobServer()).handle(request),
});

// SSE needs the Node runtime and must never be cached.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';
