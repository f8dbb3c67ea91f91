// Runs the hook and modal tests on React 18: every require of react / react-dom (from
// @testing-library/react, from react-dom itself) is sent to the react-18 aliases.
import Module, { createRequire } from 'node:module';

const redirect: Record<string, string> = {
  react: 'react-18',
  'react/jsx-runtime': 'react-18/jsx-runtime',
  'react/jsx-dev-runtime': 'react-18/jsx-dev-runtime',
  'react-dom': 'react-dom-18',
  'react-dom/client': 'react-dom-18/client',
  'react-dom/server': 'react-dom-18/server',
  'react-dom/test-utils': 'react-dom-18/test-utils',
};
const fromHere = createRequire(import.meta.url);
const M = Module as unknown as {
  _resolveFilename: (request: string, ...rest: unknown[]) => string;
};
const original = M._resolveFilename;
M._resolveFilename = function (request, ...rest) {
  const target = redirect[request];
  return target ? fromHere.resolve(target) : original.call(this, request, ...rest);
};
