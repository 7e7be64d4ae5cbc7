import net from 'node:net';
import tls from 'node:tls';

export interface Relay {
  close(): Promise<void>;
}

/**
 * A TCP relay from `listen` to `target`. With `tls`, it terminates TLS on the way in (for
 * example mutual TLS with `requestCert`), as a TLS-terminating load balancer in front of a
 * Temporal frontend would: the dev server itself speaks only plain gRPC.
 */
export async function relay(listen: { host: string; port: number }, target: { host: string; port: number }, tlsOptions?: tls.TlsOptions): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const onInbound = (inbound: net.Socket) => {
    const outbound = net.connect(target.port, target.host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  };
  const server = tlsOptions ? tls.createServer(tlsOptions, onInbound) : net.createServer(onInbound);
  // A client refused by the TLS handshake is the point of some tests, not an error of the relay.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
