import net from 'node:net';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { signJwt } from './postgrest-emulator.js';

/** A port nothing listens on: Realtime's WebSocket to it fails at once (Realtime cannot run here). */
export async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export const serviceRoleKey = signJwt({ role: 'service_role', iss: 'supabase-test' });
export const anonKey = signJwt({ role: 'anon', iss: 'supabase-test' });

/** A supabase-js client as the docs tell a Node 20 server to create one. */
export function supabaseClient(url: string, key: string, accessToken?: string) {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never },
    global: accessToken ? { headers: { Authorization: `Bearer ${accessToken}` } } : {},
  });
}
