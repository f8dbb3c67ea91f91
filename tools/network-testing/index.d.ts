export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: the proxy's address as a URL (for HTTP targets). */
  url: string;
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Resets every open connection and refuses new ones until `restore()`. */
  drop(): void;
  restore(): void;
  /** Connections accepted so far (a reconnect shows up here). */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on a free loopback port in front of `target` (a URL, or any
 * `{ hostname, port }`). `drop()` makes what a lost link, a database restart or a
 * failover looks like to a client: open connections reset, new ones refused.
 */
export function startTcpProxy(target: {
  hostname: string;
  port: string | number;
}): Promise<TcpProxy>;
