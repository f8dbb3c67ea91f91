#!/usr/bin/env node
// Runs a command with the servers the tests need: a private PostgreSQL cluster and a
// Redis server on free loopback ports (unless DATABASE_URL / REDIS_URL are already
// set), and CHROMIUM_PATH pointing at a system Chromium. Everything started here is
// stopped when the command ends. With JOBSTREAM_REQUIRE_SERVICES=1 (CI) a missing
// server is an error; otherwise the tests that need it say they were skipped and why.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const require = process.env.JOBSTREAM_REQUIRE_SERVICES === '1';
const cleanups = [];
const isRoot = process.getuid?.() === 0;

function log(message) {
  process.stderr.write(`[with-services] ${message}\n`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function which(command) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function findPgBin() {
  const root = '/usr/lib/postgresql';
  if (fs.existsSync(root)) {
    const versions = fs.readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const bin = path.join(root, v, 'bin');
      if (fs.existsSync(path.join(bin, 'initdb'))) return bin;
    }
  }
  const initdb = which('initdb');
  return initdb ? path.dirname(initdb) : null;
}

function asPostgres(args) {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', ...args]] : [args[0], args.slice(1)];
}

async function startPostgres() {
  const bin = findPgBin();
  if (!bin) return 'PostgreSQL binaries (initdb) not found: apt-get install postgresql';
  const port = await freePort();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jobstream-pg-'));
  const data = path.join(base, 'data');
  fs.mkdirSync(data);
  if (isRoot) {
    fs.chmodSync(base, 0o755);
    execFileSync('chown', ['-R', 'postgres:postgres', data]);
  }
  const run = (args) => {
    const [cmd, rest] = asPostgres(args);
    // cwd: a postgres user cannot enter a caller's private directory (a mktemp -d clone),
    // and initdb/pg_ctl then print "could not change directory ...: Permission denied".
    execFileSync(cmd, rest, { cwd: base, stdio: ['ignore', 'ignore', 'inherit'] });
  };
  run([
    path.join(bin, 'initdb'),
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  run([
    path.join(bin, 'pg_ctl'),
    '-D',
    data,
    '-l',
    path.join(data, 'server.log'),
    '-w',
    '-o',
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${data} -c max_connections=300 -c fsync=off`,
    'start',
  ]);
  cleanups.push(() => {
    try {
      run([path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {}
    fs.rmSync(base, { recursive: true, force: true });
  });
  process.env.DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/postgres`;
  log(`PostgreSQL on port ${port}`);
  return null;
}

async function startRedis() {
  const server = which('redis-server');
  if (!server) return 'redis-server not found: apt-get install redis-server';
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobstream-redis-'));
  const child = spawn(
    server,
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    {
      stdio: 'ignore',
    },
  );
  cleanups.push(() => {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
  log(`Redis on port ${port}`);
  return null;
}

function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const found = which(name);
    if (found) return found;
  }
  return null;
}

function stopAll() {
  while (cleanups.length) cleanups.pop()();
}

const missing = [];
try {
  if (!process.env.DATABASE_URL) {
    const problem = await startPostgres();
    if (problem) missing.push(problem);
  }
  if (!process.env.REDIS_URL) {
    const problem = await startRedis();
    if (problem) missing.push(problem);
  }
  if (!process.env.CHROMIUM_PATH) {
    const chromium = findChromium();
    if (chromium) process.env.CHROMIUM_PATH = chromium;
    else
      missing.push('Chromium not found: apt-get install chromium (browser tests will be skipped)');
  }
} catch (error) {
  stopAll();
  throw error;
}

if (missing.length) {
  for (const m of missing) log(m);
  if (require) {
    stopAll();
    log('JOBSTREAM_REQUIRE_SERVICES=1: refusing to run with a server missing.');
    process.exit(1);
  }
}

const [command, ...args] = process.argv.slice(2);
if (!command) {
  log('usage: with-services.mjs <command> [args...]');
  stopAll();
  process.exit(2);
}
// Pass the output through and add up vitest's "Tests  N passed | M failed" lines, so the
// run ends with one plain total across every package (turbo prefixes each line).
const totals = { passed: 0, failed: 0, skipped: 0, files: 0 };
let pending = '';
function scan(text) {
  pending += text;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const raw of lines) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colours
    const line = raw.replace(/\u001b\[[0-9;]*m/g, '');
    const match = /\bTests\s+(.+?)\s+\(\d+\)\s*$/.exec(line);
    if (!match) continue;
    totals.files++;
    for (const [, n, word] of match[1].matchAll(/(\d+)\s+(passed|failed|skipped|todo)/g)) {
      if (word === 'todo') totals.skipped += Number(n);
      else totals[word] += Number(n);
    }
  }
}
const child = spawn(command, args, { stdio: ['inherit', 'pipe', 'inherit'], env: process.env });
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  scan(chunk.toString('utf8'));
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('close', (code, signal) => {
  stopAll();
  scan('\n');
  if (totals.files > 0) {
    console.log(
      `\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`,
    );
  }
  process.exit(code ?? (signal ? 1 : 0));
});
