export { RedisJobStore, type RedisJobStoreOptions } from './redis-store.js';
