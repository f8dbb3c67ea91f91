import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../src/index.js';
import { readMigrations } from './test-database.js';

describe('SCHEMA_VERSION', () => {
  it('is the version the last migration gives jobstream_schema_version()', () => {
    let version = 0;
    for (const { sql } of readMigrations()) {
      for (const m of sql.matchAll(
        /jobstream_schema_version\(\)[\s\S]*?as \$\$ select (\d+) \$\$/g,
      )) {
        version = Number(m[1]);
      }
    }
    expect(version).toBeGreaterThan(0);
    expect(SCHEMA_VERSION).toBe(version);
  });
});
