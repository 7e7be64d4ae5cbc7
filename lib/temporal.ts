import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { Deployment } from '../config/schema/deployment';

export interface TemporalTarget {
  address: string;
  namespace: string;
  uiUrl?: string;
  tls?: {
    clientCertPair: { crt: Buffer; key: Buffer };
    serverRootCACertificate?: Buffer;
    serverNameOverride?: string;
  };
  apiKey?: string;
}

/** Where the Temporal server is and how to authenticate, for both Client and Worker connections. */
export function temporalTarget(deployment: Deployment): TemporalTarget {
  const t = deployment.temporal;
  if (t.mode === 'embedded') {
    return { address: `${t.host}:${t.port}`, namespace: t.namespace, uiUrl: `http://localhost:${t.uiPort}` };
  }
  return {
    address: t.address,
    namespace: t.namespace,
    ...(t.uiUrl ? { uiUrl: t.uiUrl } : {}),
    ...(t.tls
      ? {
          tls: {
            clientCertPair: { crt: readFileSync(t.tls.clientCertPath), key: readFileSync(t.tls.clientKeyPath) },
            ...(t.tls.serverRootCaPath ? { serverRootCACertificate: readFileSync(t.tls.serverRootCaPath) } : {}),
            ...(t.tls.serverNameOverride ? { serverNameOverride: t.tls.serverNameOverride } : {}),
          },
        }
      : {}),
    ...(t.apiKeyPath ? { apiKey: readFileSync(t.apiKeyPath, 'utf8').trim() } : {}),
  };
}

export { machineTaskQueue } from '../config/task-queues';

/**
 * The one client connection to the configured Temporal, with its TLS and API key: the CLI, the
 * demo, the control worker's registration of search attributes and the local stack's readiness
 * check all connect here. (Workers poll through the SDK's NativeConnection: workers/runtime.ts.)
 */
export async function connectClient(deployment: Deployment, o: { connectTimeoutMs?: number } = {}): Promise<{ client: Client; connection: Connection; namespace: string; close: () => Promise<void> }> {
  const target = temporalTarget(deployment);
  const connection = await Connection.connect({
    address: target.address,
    ...(target.tls ? { tls: target.tls } : {}),
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    ...(o.connectTimeoutMs ? { connectTimeout: o.connectTimeoutMs } : {}),
  });
  return { client: new Client({ connection, namespace: target.namespace }), connection, namespace: target.namespace, close: () => connection.close() };
}
