export {
  SCHEMA_VERSION,
  type SupabaseClientLike,
  SupabaseJobStore,
  type SupabaseJobStoreOptions,
} from './supabase-store.js';
