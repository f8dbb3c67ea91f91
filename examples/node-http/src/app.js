// The whole example server: jobstream's routes under /api/generation, a page at /.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { MemoryJobStore } from '@jobstream/core';
import { createJobServer } from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import { createCourseJob } from './course-job.js';

const BASE = '/api/generation';
const PAGE = new URL('../public/index.html', import.meta.url);

/**
 * Who is asking. A real app reads its session here; the demo trusts an `x-demo-user`
 * header or a `demo_user` cookie. Neither → null → 401.
 * @param {Request} request
 */
function demoUser(request) {
  const header = request.headers.get('x-demo-user');
  if (header) return header;
  const cookie = request.headers.get('cookie') ?? '';
  const match = /(?:^|;\s*)demo_user=([^;]+)/.exec(cookie);
  return match ? decodeURIComponent(match[1]) : null;
}

/**
 * @param {{ stepMs?: number, maxActiveJobs?: number }} [options]
 * @returns {{ server: http.Server, store: MemoryJobStore, jobs: import('@jobstream/server').JobServer }}
 */
export function createApp(options = {}) {
  const store = new MemoryJobStore({ retention: { finishedJobTtlMs: 60 * 60_000 } });
  const jobs = createJobServer({
    store,
    jobs: [createCourseJob(options.stepMs ?? 300)],
    authenticate: demoUser,
    basePath: BASE,
    maxActiveJobsPerOwner: options.maxActiveJobs ?? 100,
    // /process only answers signed requests; this demo runs jobs in-process.
    secret: process.env.JOBSTREAM_SECRET ?? randomBytes(32).toString('hex'),
  });
  const api = toNodeHandler(jobs);

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === BASE || path.startsWith(`${BASE}/`)) return api(req, res);
    if (path === '/' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(await readFile(PAGE));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found');
  });
  server.on('close', () => {
    jobs.close();
    store.close();
  });
  return { server, store, jobs };
}
