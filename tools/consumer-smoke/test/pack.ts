import { runOrThrow } from './run.js';
import { publishablePackages } from './workspace-packages.js';

export interface Tarball {
  name: string;
  version: string;
  /** Absolute path of the .tgz. */
  file: string;
}

/**
 * `pnpm pack` of every publishable package: the same tarballs `changeset publish` uploads,
 * with `workspace:^` rewritten to real versions. Needs the packages built (turbo's ^build).
 */
export async function packAll(destination: string): Promise<Tarball[]> {
  return Promise.all(
    publishablePackages().map(async ({ dir }) => {
      const out = await runOrThrow('pnpm', ['pack', '--json', '--pack-destination', destination], {
        cwd: dir,
      });
      const { name, version, filename } = JSON.parse(out) as {
        name: string;
        version: string;
        filename: string;
      };
      return { name, version, file: filename };
    }),
  );
}
