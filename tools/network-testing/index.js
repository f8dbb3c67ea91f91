// A TCP proxy that can drop the network: every open connection is reset and new ones
// are refused until it is restored. Browser tests put it in front of the app (a lost
// Wi-Fi link, which Chromium's offline emulation does not give: it leaves an open stream
// flowing); store tests put it in front of PostgreSQL or Redis (a restart, a failover).
import net from 'node:net';

export async function startTcpProxy(target) {
  const sockets = new Set();
  let down = false;
  let connections = 0;
  const server = net.createServer((client) => {
    if (down) return void client.resetAndDestroy();
    connections++;
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return connections;
    },
    drop() {
      down = true;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
