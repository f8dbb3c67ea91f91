/**
 * Answers supabase-js's PostgREST calls (msw, in this process) by running the SQL
 * PostgREST would run on the real PostgreSQL test database: as the role in the request's
 * JWT, with its claims in `request.jwt.claims`, inside a transaction. Nothing is faked: the
 * rows, RLS decisions and errors come from PostgreSQL. Only the subset of PostgREST the
 * SDK and the docs use is understood (rpc; GET with select, eq/gt/gte/lt/lte/in, order,
 * limit); anything else answers 400 so a test notices.
 *
 * Realtime (a WebSocket service) cannot run here; see the tests for how live events are
 * covered by the polling fallback.
 */
import { createHmac } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import type pg from 'pg';

export const JWT_SECRET = 'jobstream-test-secret-at-least-32-characters';

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An HS256 JWT like Supabase's API keys and session tokens. */
export function signJwt(claims: Record<string, unknown>): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify({ iat: Math.floor(Date.now() / 1000), ...claims }));
  const sig = createHmac('sha256', JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function verifyJwt(token: string): Record<string, unknown> | null {
  const [head, body, sig] = token.split('.');
  if (!head || !body || !sig) return null;
  const expected = createHmac('sha256', JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  if (expected !== sig) return null;
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
const OPS: Record<string, string> = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' };

function problem(status: number, code: string, message: string, details: string | null = null) {
  return HttpResponse.json({ code, message, details, hint: null }, { status });
}

function statusFor(code: string, role: string): number {
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2));
  if (code === '42501') return role === 'anon' ? 401 : 403;
  if (code === '23505' || code === '23503') return 409;
  if (code.startsWith('08') || code.startsWith('57')) return 503;
  return 400;
}

interface ProcInfo {
  retset: boolean;
  rettype: string;
  args: Map<string, string>;
}

export interface PostgrestEmulator {
  handlers: ReturnType<typeof http.all>[];
  /** Requests answered so far. */
  requests: number;
}

export function postgrestEmulator(baseUrl: string, pool: pg.Pool): PostgrestEmulator {
  const procs = new Map<string, ProcInfo | null>();
  const state: PostgrestEmulator = { handlers: [], requests: 0 };

  async function proc(name: string): Promise<ProcInfo | null> {
    if (!procs.has(name)) {
      const { rows } = await pool.query<{
        retset: boolean;
        rettype: string;
        names: string[] | null;
        types: string[];
      }>(
        `select p.proretset as retset, format_type(p.prorettype, null) as rettype,
                p.proargnames as names,
                array(select format_type(t, null) from unnest(p.proargtypes::oid[]) t) as types
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and p.proname = $1`,
        [name],
      );
      const row = rows[0];
      procs.set(
        name,
        row
          ? {
              retset: row.retset,
              rettype: row.rettype,
              args: new Map((row.names ?? []).map((n, i) => [n, row.types[i] ?? 'text'])),
            }
          : null,
      );
    }
    return procs.get(name) ?? null;
  }

  async function run(
    role: string,
    claims: Record<string, unknown>,
    sql: string,
    params: unknown[],
  ): Promise<{ rows: Record<string, unknown>[] } | { error: pg.DatabaseError }> {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local role ${role}`);
      await client.query(`select set_config('request.jwt.claims', $1, true)`, [
        JSON.stringify(claims),
      ]);
      const result = await client.query(sql, params);
      await client.query('commit');
      return { rows: result.rows };
    } catch (error) {
      await client.query('rollback').catch(() => {});
      return { error: error as pg.DatabaseError };
    } finally {
      client.release();
    }
  }

  const handler = http.all(`${baseUrl}/rest/v1/*`, async ({ request }) => {
    state.requests++;
    const token =
      request.headers.get('authorization')?.replace(/^Bearer /i, '') ??
      request.headers.get('apikey') ??
      '';
    const claims = verifyJwt(token);
    if (!claims) return problem(401, 'PGRST301', 'JWT could not be verified');
    const role = String(claims.role ?? 'anon');
    if (!['anon', 'authenticated', 'service_role'].includes(role)) {
      return problem(401, 'PGRST301', `role ${role} is not allowed`);
    }
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/rest\/v1\//, '');

    if (path.startsWith('rpc/')) {
      const name = path.slice(4);
      const info = IDENT.test(name) ? await proc(name) : null;
      if (!info) {
        return problem(
          404,
          'PGRST202',
          `Could not find the function public.${name} in the schema cache`,
        );
      }
      const body =
        request.method === 'POST'
          ? ((await request.json().catch(() => ({}))) as Record<string, unknown>)
          : {};
      const args: string[] = [];
      const params: unknown[] = [];
      for (const [key, value] of Object.entries(body ?? {})) {
        const type = info.args.get(key);
        if (!type) return problem(404, 'PGRST202', `public.${name} has no parameter ${key}`);
        params.push(type === 'jsonb' || type === 'json' ? JSON.stringify(value) : value);
        args.push(`${key} => $${params.length}::${type}`);
      }
      const call = `public.${name}(${args.join(', ')})`;
      const sql = info.retset
        ? `select coalesce(json_agg(r), '[]')::text as body from ${call} r`
        : `select to_json(${call})::text as body`;
      const result = await run(role, claims, sql, params);
      if ('error' in result) {
        const e = result.error;
        return problem(statusFor(e.code ?? '', role), e.code ?? '', e.message, e.detail ?? null);
      }
      if (info.rettype === 'void') return new HttpResponse(null, { status: 204 });
      return new HttpResponse(String(result.rows[0]?.body ?? 'null'), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }

    if (request.method !== 'GET') return problem(405, 'PGRST117', 'only GET and rpc are emulated');
    if (!IDENT.test(path)) return problem(400, 'PGRST100', `bad relation ${path}`);
    const columns = (url.searchParams.get('select') ?? '*').split(',').map((c) => c.trim());
    if (!columns.every((c) => c === '*' || IDENT.test(c))) {
      return problem(400, 'PGRST100', 'only plain column lists are emulated');
    }
    const where: string[] = [];
    const params: unknown[] = [];
    let order = '';
    let limit = '';
    for (const [key, value] of url.searchParams) {
      if (key === 'select') continue;
      if (key === 'order') {
        const parts = value.split(',').map((part) => {
          const [column, direction = 'asc'] = part.split('.');
          if (!column || !IDENT.test(column) || !['asc', 'desc'].includes(direction)) {
            throw new Error(`bad order ${value}`);
          }
          return `${column} ${direction}`;
        });
        order = ` order by ${parts.join(', ')}`;
        continue;
      }
      if (key === 'limit') {
        limit = ` limit ${Number.parseInt(value, 10)}`;
        continue;
      }
      if (!IDENT.test(key)) return problem(400, 'PGRST100', `bad column ${key}`);
      const dot = value.indexOf('.');
      const op = value.slice(0, dot);
      const operand = value.slice(dot + 1);
      if (op === 'in') {
        params.push(operand.replace(/^\(|\)$/g, '').split(','));
        where.push(`${key}::text = any($${params.length}::text[])`);
      } else if (OPS[op]) {
        params.push(operand);
        where.push(`${key} ${OPS[op]} $${params.length}`);
      } else {
        return problem(400, 'PGRST100', `operator ${op} is not emulated`);
      }
    }
    const sql = `select coalesce(json_agg(t), '[]')::text as body from (select ${columns.join(', ')} from public.${path}${
      where.length ? ` where ${where.join(' and ')}` : ''
    }${order}${limit}) t`;
    const result = await run(role, claims, sql, params);
    if ('error' in result) {
      const e = result.error;
      return problem(statusFor(e.code ?? '', role), e.code ?? '', e.message, e.detail ?? null);
    }
    return new HttpResponse(String(result.rows[0]?.body ?? '[]'), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  });
  state.handlers.push(handler);
  return state;
}

/**
 * Realtime is a WebSocket service we cannot run here. supabase-js's socket (through `ws`)
 * opens with an HTTP upgrade request, which msw sees: answer it with a network error, as an
 * unreachable Realtime would, so the store has to fall back to polling.
 */
export function realtimeUnavailable(baseUrl: string) {
  return http.all(`${baseUrl}/realtime/v1/*`, () => HttpResponse.error());
}
