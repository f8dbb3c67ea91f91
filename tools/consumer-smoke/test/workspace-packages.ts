import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  dir: string;
  manifest: PackageJson;
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Every package under packages/ that is not private: what `changeset publish` ships. */
export function publishablePackages(): WorkspacePackage[] {
  const root = path.join(repoRoot, 'packages');
  return fs
    .readdirSync(root)
    .map((name) => path.join(root, name))
    .filter((dir) => fs.existsSync(path.join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: readJson<PackageJson>(path.join(dir, 'package.json')) }))
    .filter(({ manifest }) => !manifest.private);
}

/**
 * The version of a third-party package (or alias) the workspace already uses, so the consumer
 * project gets the same one (linked from pnpm's store, no download) and moves with it.
 */
export function workspaceVersion(name: string): string {
  const manifests = [
    ...publishablePackages().map((p) => p.manifest),
    readJson<PackageJson>(path.join(repoRoot, 'package.json')),
  ];
  for (const manifest of manifests) {
    const version = manifest.devDependencies?.[name] ?? manifest.dependencies?.[name];
    if (version && !version.startsWith('workspace:')) {
      // An alias such as react-18: "npm:react@18.3.1" gives the version after the name.
      return version.startsWith('npm:') ? version.slice(version.lastIndexOf('@') + 1) : version;
    }
  }
  throw new Error(`${name} is not a dependency of any workspace package: pin it in the test`);
}
