import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nanos, nkeyAuthenticator, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import type { Deployment } from '../config/schema/deployment';

/** JetStream subjects and streams phasegate writes to and reads from. */
export const subjects = {
  event: (workflowId: string, kind: string) => `phasegate.events.${safeToken(workflowId)}.${safeToken(kind)}`,
  alert: (level: 1 | 2 | 3) => `phasegate.alerts.level${level}`,
  heartbeat: (machine: string, agent: string) => `fleet.heartbeat.${safeToken(machine)}.${safeToken(agent)}`,
  /** A machine worker's own heartbeat (core NATS, not stored): the control machine watches the links by it. */
  machineHeartbeat: (machine: string) => `fleet.machine.${safeToken(machine)}`,
  everyMachineHeartbeat: 'fleet.machine.*',
} as const;

export const streams = {
  events: { name: 'PHASEGATE_EVENTS', subjects: ['phasegate.events.>'], maxAgeMs: 30 * 24 * 3600 * 1000 },
  alerts: { name: 'PHASEGATE_ALERTS', subjects: ['phasegate.alerts.>'], maxAgeMs: 30 * 24 * 3600 * 1000 },
  heartbeats: { name: 'FLEET_HEARTBEATS', subjects: ['fleet.heartbeat.>'], maxAgeMs: 2 * 3600 * 1000 },
} as const;

/** Publish ids within this window are de-duplicated by JetStream. */
export const duplicateWindowMs = 10 * 60 * 1000;

/** NATS subject tokens may not contain '.', '*', '>' or whitespace. */
export function safeToken(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function natsServers(deployment: Deployment): string[] {
  const n = deployment.nats;
  return n.mode === 'embedded' ? [`nats://${n.host}:${n.port}`] : n.servers;
}

/** `once`: one attempt within a few seconds that fails if no server answers (doctor), instead of waiting for ever. */
export async function connectNats(deployment: Deployment, name: string, o: { once?: boolean } = {}): Promise<NatsConnection> {
  const n = deployment.nats;
  const authenticator =
    n.mode === 'external' && n.credentialsPath
      ? credsAuthenticator(readFileSync(n.credentialsPath))
      : n.mode === 'external' && n.nkeySeedPath
        ? nkeyAuthenticator(new TextEncoder().encode(readFileSync(n.nkeySeedPath, 'utf8').trim()))
        : undefined;
  return connect({
    servers: natsServers(deployment),
    name,
    // Temporal is the record of truth; NATS may come and go, so keep reconnecting for ever.
    ...(o.once
      ? { reconnect: false, waitOnFirstConnect: false, timeout: 3000 }
      : { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true }),
    ...(authenticator ? { authenticator } : {}),
    ...(n.mode === 'external' && n.tls
      ? {
          tls: {
            ...(n.tls.caPath ? { ca: readFileSync(n.tls.caPath, 'utf8') } : {}),
            ...(n.tls.clientCertPath ? { cert: readFileSync(n.tls.clientCertPath, 'utf8') } : {}),
            ...(n.tls.clientKeyPath ? { key: readFileSync(n.tls.clientKeyPath, 'utf8') } : {}),
          },
        }
      : {}),
  });
}

/**
 * Creates phasegate's streams if missing, with the deployment's replicas (3 on the production
 * cluster: a node can be lost without losing an acknowledged event); safe to call from every
 * process at start.
 */
export async function ensureStreams(nc: NatsConnection, deployment: Deployment, limitMs = 60_000): Promise<void> {
  // A cluster just (re)started answers before its streams have elected their leaders: JetStream
  // calls time out or say "temporarily unavailable" for a few seconds. Keep asking for a while.
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await ensureStreamsOnce(nc, deployment);
    } catch (err) {
      const message = (err as Error).message ?? '';
      if (Date.now() > deadline || !/TIMEOUT|timeout|temporarily unavailable|no responders|503/i.test(`${message} ${(err as { code?: string }).code ?? ''}`)) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function ensureStreamsOnce(nc: NatsConnection, deployment: Deployment): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const replicas = deployment.nats.mode === 'external' ? deployment.nats.replicas : 1;
  for (const s of Object.values(streams)) {
    const config = {
      name: s.name,
      num_replicas: replicas,
      subjects: [...s.subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(s.maxAgeMs),
      duplicate_window: nanos(duplicateWindowMs),
    };
    try {
      await jsm.streams.info(s.name);
      await jsm.streams.update(s.name, config);
    } catch (err) {
      if (!/stream not found/i.test((err as Error).message)) throw err;
      await jsm.streams.add(config);
    }
  }
}
