import { build } from 'esbuild';
import { expect, inject, it } from 'vitest';

const dir = inject('consumerDir');

/** The files a browser bundle of `specifier` pulls in, resolved from the consumer app. */
async function moduleGraph(specifier: string, format: 'esm' | 'cjs'): Promise<string[]> {
  const result = await build({
    stdin: {
      contents:
        format === 'esm'
          ? `export * from '${specifier}';`
          : `module.exports = require('${specifier}');`,
      resolveDir: dir,
      loader: 'js',
    },
    bundle: true,
    write: false,
    metafile: true,
    format,
    platform: 'browser',
    external: ['react', 'react/*'],
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

const isZod = (file: string) => /(^|\/)node_modules\/zod\//.test(file);

for (const format of ['esm', 'cjs'] as const) {
  it(`@jobstream/core/lite, client and react pull no zod into a browser bundle (${format})`, async () => {
    // The control: the main entry does bundle zod, so the check below can see it.
    expect((await moduleGraph('@jobstream/core', format)).filter(isZod).length).toBeGreaterThan(0);
    for (const specifier of ['@jobstream/core/lite', '@jobstream/client', '@jobstream/react']) {
      const graph = await moduleGraph(specifier, format);
      expect(graph.some((f) => f.includes('/@jobstream/'))).toBe(true);
      expect({ specifier, zod: graph.filter(isZod) }).toEqual({ specifier, zod: [] });
    }
  });
}
