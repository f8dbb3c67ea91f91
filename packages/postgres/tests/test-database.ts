import { randomBytes } from 'node:crypto';
import pg from 'pg';

const url = process.env.DATABASE_URL;

if (!url && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error(
    'DATABASE_URL is not set and JOBSTREAM_REQUIRE_SERVICES=1: PostgreSQL is required.',
  );
}

/** Why PostgreSQL tests are skipped, or null when they run. */
export const skipReason: string | null = url
  ? null
  : 'DATABASE_URL is not set: run through `node scripts/with-services.mjs` to test against PostgreSQL';

if (skipReason) console.warn(`[@jobstream/postgres] skipping PostgreSQL tests: ${skipReason}`);

export interface TestDatabase {
  url: string;
  name: string;
  /** Runs one statement as the superuser on the test database. */
  admin: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database of its own, so test files and packages can share one server. */
export async function createTestDatabase(prefix = 'jobstream_pg'): Promise<TestDatabase> {
  if (!url) throw new Error(skipReason ?? 'no DATABASE_URL');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const root = new pg.Client({ connectionString: url });
  await root.connect();
  try {
    await root.query(`create database ${name}`);
  } finally {
    await root.end();
  }
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const admin = new pg.Pool({ connectionString: dbUrl.toString(), max: 3 });
  admin.on('error', () => {});
  return {
    url: dbUrl.toString(),
    name,
    admin,
    async drop() {
      await admin.end();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
