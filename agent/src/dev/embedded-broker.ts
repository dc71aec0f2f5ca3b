/**
 * An MQTT broker inside the process (aedes), for the demo and a developer's
 * laptop: no broker to install. It speaks MQTT 3.1.1; devices, which try
 * MQTT 5 first, fall back when it refuses the protocol level. Nothing is
 * persisted: retained messages live as long as the process. The only file
 * that imports aedes.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { CanopyError } from '../core/errors';

export interface EmbeddedBroker {
  /** `mqtt://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Clients connected now. */
  clients(): number;
  close(): Promise<void>;
}

/**
 * Starts a broker on `host` (default 127.0.0.1) and a free port (or `port`).
 *
 * @throws ERR_NETWORK when the address cannot be bound.
 */
export async function startEmbeddedBroker(opts: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const server: Server = createServer((socket) => {
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new CanopyError('ERR_NETWORK', `cannot listen on ${host}:${opts.port ?? 0}: ${e.message}`, { host, errno: e.code })));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    url: `mqtt://${host}:${port}`,
    port,
    clients: () => broker.connectedClients,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
