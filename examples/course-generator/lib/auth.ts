// Who the user is. With Supabase configured, the Supabase Auth session (its access token
// in the `sb-access-token` cookie or an Authorization header); otherwise a demo sign-in:
// a cookie holding the name the visitor chose. Jobs and courses are per user either way.

export const DEMO_COOKIE = 'demo_user';

/** A cookie's value, or null when it is missing or not valid percent-encoding. */
function decode(raw: string | null | undefined): string | null {
  if (!raw) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null; // A hand-made cookie like `demo_user=%E0`: nobody, so 401, not a 500.
  }
}

function cookie(header: string | null, name: string): string | null {
  return decode(new RegExp(`(?:^|;\\s*)${name}=([^;]+)`).exec(header ?? '')?.[1]);
}

/** A demo user name: 1–40 letters, digits, spaces, dots, dashes or underscores. */
export function cleanDemoName(name: string | null | undefined): string | null {
  const trimmed = (name ?? '').trim();
  return /^[\p{L}\p{N} ._-]{1,40}$/u.test(trimmed) ? trimmed : null;
}

async function supabaseUser(token: string | null): Promise<string | null> {
  if (!token) return null;
  const { createClient } = await import('@supabase/supabase-js');
  const client = createClient(
    process.env.SUPABASE_URL as string,
    process.env.SUPABASE_ANON_KEY ?? (process.env.SUPABASE_SERVICE_ROLE_KEY as string),
    {
      auth: { persistSession: false },
    },
  );
  const { data } = await client.auth.getUser(token);
  return data.user?.id ?? null;
}

export const usesSupabaseAuth = () =>
  Boolean(process.env.SUPABASE_URL && process.env.SUPABASE_SERVICE_ROLE_KEY);

/** The user id behind a request, or null (→ 401 from the job routes). */
export async function userFromRequest(request: Request): Promise<string | null> {
  const cookies = request.headers.get('cookie');
  if (usesSupabaseAuth()) {
    const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null;
    return supabaseUser(bearer ?? cookie(cookies, 'sb-access-token'));
  }
  return cleanDemoName(request.headers.get('x-demo-user') ?? cookie(cookies, DEMO_COOKIE));
}

/** The same, from the cookies a server component sees. */
export async function userFromCookies(
  get: (name: string) => string | undefined,
): Promise<string | null> {
  if (usesSupabaseAuth()) return supabaseUser(get('sb-access-token') ?? null);
  return cleanDemoName(decode(get(DEMO_COOKIE)));
}
