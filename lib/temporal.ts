import { readFileSync } from 'node:fs';
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

/** The task queue of a machine's activity worker: the machine's own name. */
export const machineTaskQueue = (machine: string): string => machine;
