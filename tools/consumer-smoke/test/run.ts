import { execFile } from 'node:child_process';

/**
 * The environment an app's own shell would give a command: without what the test runner
 * and pnpm's bin shims set. NODE_PATH above all: the shims point it into the repo's
 * node_modules, where require() would find packages the consumer never installed.
 */
export function consumerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      /^(NODE_PATH|NODE_OPTIONS|NODE_ENV|TEST|VITEST.*|PNPM_PACKAGE_NAME|INIT_CWD)$/.test(key) ||
      /^(npm|pnpm)_/i.test(key)
    ) {
      delete env[key];
    }
  }
  return env;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never rejects, so a test can show what it printed. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? consumerEnv(),
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: error && !stderr ? String(error) : stderr });
      },
    );
  });
}

/** Like run, but a failure throws with everything the command printed. */
export async function runOrThrow(
  command: string,
  args: string[],
  options: Parameters<typeof run>[2],
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}
