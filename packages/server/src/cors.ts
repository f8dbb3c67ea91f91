/** Cross-origin access: off unless configured, and then only for listed origins. */
export interface CorsOptions {
  /**
   * Origins allowed to call the API, exactly as browsers send them, or a predicate.
   * @example origins: ['https://app.example.com']
   */
  origins: readonly string[] | ((origin: string) => boolean);
  /** Allow cookies and `Authorization` (an `EventSource` with `withCredentials`). @default true */
  credentials?: boolean;
  /** How long browsers may cache a preflight, seconds. @default 600 */
  maxAge?: number;
}

function allowed(origin: string | null, cors: CorsOptions): origin is string {
  if (!origin) return false;
  return typeof cors.origins === 'function' ? cors.origins(origin) : cors.origins.includes(origin);
}

/** Headers for a request from an allowed origin; null for any other request. */
export function corsHeaders(request: Request, cors: CorsOptions): Record<string, string> | null {
  const origin = request.headers.get('origin');
  if (!allowed(origin, cors)) return null;
  return {
    'access-control-allow-origin': origin,
    ...(cors.credentials === false ? {} : { 'access-control-allow-credentials': 'true' }),
    'access-control-expose-headers': 'location',
    vary: 'origin',
  };
}

/** Answers a preflight; a disallowed origin gets no CORS headers, so the browser refuses. */
export function preflight(request: Request, cors: CorsOptions, method: string): Response {
  const headers = new Headers({ vary: 'origin' });
  const base = corsHeaders(request, cors);
  if (base) {
    for (const [name, value] of Object.entries(base)) headers.set(name, value);
    headers.set('access-control-allow-methods', `${method}, OPTIONS`);
    const requested = request.headers.get('access-control-request-headers');
    headers.set(
      'access-control-allow-headers',
      requested ?? 'content-type, authorization, last-event-id',
    );
    headers.set('access-control-max-age', String(cors.maxAge ?? 600));
  }
  return new Response(null, { status: 204, headers });
}

/**
 * True for a browser request from another site whose origin is not allowed: a page
 * anywhere can make the browser POST a text/plain form with the user's cookies (CSRF),
 * and bodies are read as JSON whatever their content-type. Browsers say so in
 * `Sec-Fetch-Site`; clients that are not browsers do not send it.
 */
export function isRefusedCrossSite(request: Request, cors: CorsOptions | undefined): boolean {
  if (request.headers.get('sec-fetch-site') !== 'cross-site') return false;
  return !cors || corsHeaders(request, cors) === null;
}
