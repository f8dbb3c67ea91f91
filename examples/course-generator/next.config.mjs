/** @type {import('next').NextConfig} */
const nextConfig = {
  // Database drivers stay plain Node requires on the server.
  serverExternalPackages: ['pg', '@electric-sql/pglite', 'ws'],
  // The workspace root holds the lockfile; keep Next from guessing.
  outputFileTracingRoot: new URL('../../', import.meta.url).pathname,
  typescript: { tsconfigPath: './tsconfig.json' },
};

export default nextConfig;
