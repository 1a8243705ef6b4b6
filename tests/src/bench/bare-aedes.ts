/**
 * A bare aedes broker in its own process, for bench:load's side-by-side figures:
 * no authentication, no ACL, no server behind it (what Kanjia's gateway costs on
 * top of aedes shows as the difference). Prints {"port":N} once listening on
 * 127.0.0.1; stops on SIGTERM.
 */
import net from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = net.createServer((socket) => broker.handle(socket));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
