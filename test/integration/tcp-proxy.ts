/**
 * A TCP proxy the test controls, put between a client and a real server to simulate the server going away
 * (`cut`: every connection dropped, new ones refused) and coming back (`restore`) without touching the
 * shared server or its data.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  private constructor(targetHost: string, targetPort: number) {
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
  }

  /** Starts a proxy on a free local port forwarding to `targetHost:targetPort`. */
  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.#listen(0);
    return proxy;
  }

  /** The local port clients connect to. */
  get port(): number {
    return this.#port;
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.#sockets.size / 2;
  }

  /** Drops every connection and stops listening: clients see resets, then refused connections. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (!this.#server) await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    await this.cut();
  }

  #listen(port: number): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect({ host: this.#targetHost, port: this.#targetPort });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        if (address && typeof address === 'object') this.#port = address.port;
        resolve();
      });
    });
  }
}
