/*
 * kube-proxy stand-in: a ClusterIP Service gets its own loopback address; a
 * TCP listener there forwards each connection to one ready endpoint
 * (pod address + targetPort), round robin. Used only for Services with a
 * selector and a cluster IP; headless Services are DNS records only.
 */
import * as net from 'net';
import { log } from './log';

export interface Endpoint {
  host: string;
  port: number;
}

export class ServiceProxy {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  private rr = 0;
  endpoints: Endpoint[] = [];

  constructor(readonly name: string, readonly host: string, readonly port: number) {}

  async start(): Promise<void> {
    const server = net.createServer({ noDelay: true }, (client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      const eps = this.endpoints;
      if (!eps.length) {
        client.destroy();
        return;
      }
      const ep = eps[this.rr++ % eps.length];
      const upstream = net.connect({ host: ep.host, port: ep.port, noDelay: true });
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    server.unref();
    log(`service ${this.name}: ${this.host}:${this.port} -> ${this.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || '(no endpoints yet)'}`);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}
