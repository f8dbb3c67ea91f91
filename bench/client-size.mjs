// Browser weight of @jobstream/client beside its peers: esbuild bundle + minify (ESM,
// browser platform), then gzip -9. Each entry is a tiny module importing what a user would
// import; what it does not use is tree-shaken away, as in an app's bundle.
// Run: pnpm --filter @jobstream/core --filter @jobstream/client build && node bench/client-size.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { build } from 'esbuild';
import { machine, printTable } from './machine.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const KIB = 1024;
const TARGETS = { whole: 4 * KIB, subscribe: 3 * KIB };

// What opt-in validation would weigh if core imported zod as a namespace (`import * as z`),
// which lets esbuild drop zod's locales and JSON-schema code; core's `import { z }` keeps them.
const zodNamespace = {
  name: 'zod-namespace',
  setup(b) {
    b.onLoad({ filter: /packages[\\/]core[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const fs = await import('node:fs/promises');
      const text = await fs.readFile(args.path, 'utf8');
      return {
        contents: text.replace(/import \{ z \} from "zod";/, 'import * as z from "zod";'),
        loader: 'js',
      };
    });
  },
};

async function measure(contents, plugins = []) {
  const result = await build({
    plugins,
    stdin: { contents, resolveDir: here, loader: 'js' },
    bundle: true,
    minify: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gzip: zlib.gzipSync(code, { level: 9 }).length };
}

const use = (names, from) =>
  `import { ${names.join(', ')} } from '${from}';\nglobalThis.__keep = [${names.join(', ')}];`;

const entries = [
  ['`subscribeToJob` alone', use(['subscribeToJob'], '@jobstream/client'), 'subscribe'],
  ['whole `@jobstream/client` entry', "export * from '@jobstream/client';", 'whole'],
  [
    '`createJobClient` (brings `watchJob`, `applyEvent`)',
    use(['createJobClient'], '@jobstream/client'),
  ],
  [
    '`subscribeToJob` + opt-in `validate: parseJobEvent`',
    `${use(['subscribeToJob'], '@jobstream/client')}\nimport { parseJobEvent } from '@jobstream/core';\nglobalThis.__v = parseJobEvent;`,
  ],
  [
    'peer: `@microsoft/fetch-event-source`',
    use(['fetchEventSource'], '@microsoft/fetch-event-source'),
  ],
  [
    'peer: `eventsource-client` (with eventsource-parser)',
    use(['createEventSource'], 'eventsource-client'),
  ],
  ['part: `eventsource-parser` alone', use(['createParser'], 'eventsource-parser')],
  [
    'part: core lite `applyEvent` (what `watchJob` folds with)',
    use(['applyEvent'], '@jobstream/core/lite'),
  ],
  [
    'part: core lite `reduce` (`checkEvent` + `applyEvent`, for writers)',
    use(['reduce'], '@jobstream/core/lite'),
  ],
  ['part: core lite `isJobEventEnvelope`', use(['isJobEventEnvelope'], '@jobstream/core/lite')],
  ['zod 4 + core event schemas (`parseJobEvent`)', use(['parseJobEvent'], '@jobstream/core')],
  [
    'same, had core `import * as z from "zod"`',
    use(['parseJobEvent'], '@jobstream/core'),
    undefined,
    [zodNamespace],
  ],
];

const kib = (bytes) => `${(bytes / KIB).toFixed(2)} KiB`;
const results = [];
for (const [label, contents, target, plugins] of entries) {
  results.push({ label, target, ...(await measure(contents, plugins)) });
}
const peer = results.find((r) => r.label.includes('eventsource-client'));
const rows = results.map(({ label, target, min, gzip }) => {
  const notes = [
    `${min.toLocaleString('en-US')} B min`,
    `${(gzip / peer.gzip).toFixed(2)}x eventsource-client`,
  ];
  if (target) {
    const limit = TARGETS[target];
    notes.push(`target ≤ ${kib(limit)}: ${gzip <= limit ? 'met' : `MISSED by ${gzip - limit} B`}`);
  }
  return [label, `${gzip.toLocaleString('en-US')} B (${kib(gzip)})`, notes.join('; ')];
});
printTable('Client size (min + gzip -9)', machine(), rows);
