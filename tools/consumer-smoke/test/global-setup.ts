import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createConsumerProject } from './consumer-project.js';
import { packAll, type Tarball } from './pack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The installed consumer app (in a temp dir outside the repo). */
    consumerDir: string;
    /** That temp dir, for more apps beside it. */
    scratchDir: string;
    tarballs: Tarball[];
  }
}

/** Packs once and installs once for every test file. KEEP_CONSUMER=1 keeps the dir. */
export default async function setup(project: TestProject) {
  const started = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobstream-consumer-'));
  const cleanup = () => {
    if (process.env.KEEP_CONSUMER) console.log(`consumer-smoke: kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  };
  const tarballDir = path.join(dir, 'tarballs');
  fs.mkdirSync(tarballDir);
  let tarballs: Tarball[];
  let packed: number;
  try {
    tarballs = await packAll(tarballDir);
    packed = performance.now();
    await createConsumerProject(path.join(dir, 'app'), tarballs);
  } catch (error) {
    cleanup();
    throw error;
  }
  console.log(
    `consumer-smoke: packed ${tarballs.length} packages in ${ms(packed - started)}, ` +
      `installed them in ${dir} in ${ms(performance.now() - packed)}`,
  );
  project.provide('consumerDir', path.join(dir, 'app'));
  project.provide('scratchDir', dir);
  project.provide('tarballs', tarballs);
  return cleanup;
}

function ms(value: number): string {
  return `${(value / 1000).toFixed(1)} s`;
}
