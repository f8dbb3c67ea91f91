// Stand-ins for the two frameworks docs/*.md show jobstream in but this app does not
// install (next is large, express is not used anywhere else in the repo): only the
// signatures the snippets call, as those packages declare them.
declare module 'next/server' {
  /** next@16: runs work after the response has been sent. */
  export function after<T>(task: Promise<T> | (() => T | Promise<T>)): void;
}

declare module 'express' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  type NextFunction = (error?: unknown) => void;
  type RequestHandler = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => unknown;
  interface Express {
    use(path: string, ...handlers: RequestHandler[]): Express;
    listen(port: number): unknown;
  }
  function express(): Express;
  export default express;
}
