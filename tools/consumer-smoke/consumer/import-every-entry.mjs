// Loads every entry point of every installed @jobstream package, with import() and with
// require(), as an app on Node would: what fails to load prints its error.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const results = [];
for (const dir of fs.readdirSync('node_modules/@jobstream')) {
  const manifest = JSON.parse(
    fs.readFileSync(`node_modules/@jobstream/${dir}/package.json`, 'utf8'),
  );
  for (const subpath of Object.keys(manifest.exports)) {
    if (subpath === './package.json') continue;
    const specifier = manifest.name + subpath.slice(1);
    const result = { specifier };
    try {
      result.esm = Object.keys(await import(specifier)).length;
    } catch (error) {
      result.esm = `error: ${error.message.split('\n')[0]}`;
    }
    try {
      result.cjs = Object.keys(require(specifier)).length;
    } catch (error) {
      result.cjs = `error: ${error.message.split('\n')[0]}`;
    }
    results.push(result);
  }
}
console.log(JSON.stringify(results));
