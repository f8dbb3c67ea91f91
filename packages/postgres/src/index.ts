export { MIGRATIONS, SCHEMA_VERSION } from './migrations.generated.js';
export { NOTIFY_CHANNEL } from './notification-fan-out.js';
export { PostgresJobStore, type PostgresJobStoreOptions } from './postgres-store.js';
export type { PGliteLike } from './sql-driver.js';
