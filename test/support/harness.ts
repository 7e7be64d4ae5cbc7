import { randomBytes, randomInt } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { loadConfig, type PhasegateConfig } from '../../config/load';
import { defaultConfigDir, projectRoot, toolPath } from '../../lib/paths';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { searchAttributeRegistrations } from '../../workflows/lib/visibility';
import { freePort, Stack } from '../../lib/stack';
import type { ActionRecord, AgentFaults, AgentView } from '../../simulator/fleet-state';
import { temporalTarget } from '../../lib/temporal';
import type { GeneratedFleet } from '../../simulator/generate-fleet';

// A test process stopped by a signal still runs its 'exit' handlers, which kill its stacks.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

export interface TestStackOptions {
  /** Use this Temporal server (e.g. the Java time-skipping test server) instead of a dev server. */
  temporal?: { address: string; client: Client };
  /** Edits to the copied configuration files before anything starts, by file name. */
  edit?: (files: { deployment: any; inventory: any; catalogues: Record<string, any> }) => void;
  machinePath?: Record<string, string>;
  startWorkers?: boolean;
  /** A generated fleet (simulator/generate-fleet.ts) in place of the shipped inventory and catalogues. */
  fleet?: GeneratedFleet;
  /** A test configuration made beforehand (makeTestConfig), for a test that edits it further first. */
  config?: TestConfig;
}

export interface TestStack {
  stack: Stack;
  config: PhasegateConfig;
  client: Client;
  nats: NatsConnection;
  simulatorAdmin: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * A whole phasegate stack for one test file, on free ports and its own loopback addresses
 * (127.x.y.1 for mainpc, 127.x.y.2 for pc2) so that agents' fixed ports never collide with a
 * demo or another test run on the same machine.
 */
export interface TestConfig {
  dataDir: string;
  configDir: string;
  ports: { temporal: number; ui: number; nats: number; admin: number; metrics: Record<string, number> };
}

/**
 * A copy of the default configuration on free ports and its own loopback addresses
 * (127.x.y.1 for mainpc, 127.x.y.2 for pc2), so agents' fixed ports never collide with a
 * demo or another test run on the same machine.
 */
export async function makeTestConfig(opts: Pick<TestStackOptions, 'edit' | 'temporal' | 'fleet'> = {}): Promise<TestConfig> {
  const runId = `${Date.now()}-${randomBytes(3).toString('hex')}`;
  const dataDir = path.join(projectRoot, '.data', 'test-runs', runId);
  const configDir = path.join(dataDir, 'config');
  mkdirSync(dataDir, { recursive: true });
  cpSync(defaultConfigDir, configDir, { recursive: true });
  const read = (f: string) => JSON.parse(readFileSync(path.join(configDir, f), 'utf8'));
  const deployment = read('deployment.json');
  let inventory = read('inventory.json');
  let catalogues: Record<string, any> = { mainpc: read('catalogues/mainpc.json'), pc2: read('catalogues/pc2.json') };
  if (opts.fleet) {
    inventory = structuredClone(opts.fleet.inventory);
    catalogues = structuredClone(opts.fleet.catalogues);
    deployment.catalogues = Object.fromEntries(Object.keys(catalogues).map((m) => [m, `catalogues/${m}.json`]));
  }

  const [temporalPort, uiPort, natsPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  deployment.temporal = { ...deployment.temporal, port: temporalPort, uiPort };
  deployment.nats = { ...deployment.nats, port: natsPort };
  deployment.simulator = { ...deployment.simulator, adminPort };
  // Each worker's Prometheus endpoint on a free port too (the defaults would collide with a demo).
  const metricsPorts: Record<string, number> = { control: await freePort() };
  for (const m of inventory.machines as { name: string }[]) metricsPorts[m.name] = await freePort();
  deployment.metrics = { host: '127.0.0.1', ports: metricsPorts };
  deployment.dataDir = path.relative(projectRoot, dataDir);
  const a = randomInt(2, 250);
  const b = randomInt(0, 255);
  inventory.machines.forEach((m: { host: string }, i: number) => (m.host = `127.${a}.${b}.${i + 1}`));
  if (opts.temporal) deployment.temporal = { mode: 'external', address: opts.temporal.address, namespace: 'default' };
  opts.edit?.({ deployment, inventory, catalogues });
  const write = (f: string, v: unknown) => writeFileSync(path.join(configDir, f), JSON.stringify(v, null, 2));
  write('deployment.json', deployment);
  write('inventory.json', inventory);
  for (const [m, c] of Object.entries(catalogues)) write(`catalogues/${m}.json`, c);
  return { dataDir, configDir, ports: { temporal: temporalPort, ui: uiPort, nats: natsPort, admin: adminPort, metrics: deployment.metrics.ports } };
}

/** A whole phasegate stack for one test file, on a test configuration (makeTestConfig). */
export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const { dataDir, configDir, ports } = opts.config ?? (await makeTestConfig(opts));
  const natsPort = ports.nats;
  const adminPort = ports.admin;
  const config = loadConfig(configDir);
  const stack = new Stack({
    config,
    dataDir,
    startWorkers: opts.startWorkers ?? true,
    ...(opts.machinePath ? { machinePath: opts.machinePath } : {}),
  });
  await stack.start();
  const target = temporalTarget(config.deployment);
  const connection = await Connection.connect({ address: target.address });
  const client = opts.temporal?.client ?? new Client({ connection, namespace: target.namespace });
  const natsHost = config.deployment.nats.mode === 'embedded' ? config.deployment.nats.host : '127.0.0.1';
  const nats = await connect({ servers: `nats://${natsHost}:${natsPort}` });
  return {
    stack,
    config,
    client,
    nats,
    simulatorAdmin: `http://127.0.0.1:${adminPort}`,
    dataDir,
    async stop() {
      await nats.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await stack.stop();
      // Keep the logs of a failed run for reading; a passing run leaves nothing behind.
      if (!process.exitCode) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Typed calls to the simulator's admin API. */
export function simulatorClient(adminUrl: string) {
  const call = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${adminUrl}${p}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    agents: () => call<AgentView[]>('GET', '/agents'),
    agent: (name: string) => call<AgentView>('GET', `/agents/${name}`),
    actions: (agent?: string) => call<ActionRecord[]>('GET', `/actions${agent ? `?agent=${agent}` : ''}`),
    fault: (agent: string, faults: Partial<AgentFaults>) => call('POST', '/faults', { agent, ...faults }),
    clearFaults: () => call('DELETE', '/faults'),
    hub: (name: string, up: boolean) => call('POST', `/hubs/${name}`, { up }),
    load: (machine: string, load: number) => call('POST', `/machines/${machine}/load`, { load }),
    /** The fleet clock: stand at `virtual` (stops following the wall clock), or emit every heartbeat up to `advanceTo`. */
    clock: (body: { virtual?: number; advanceTo?: number }) => call<{ mode: string; now: number; sent: number }>('POST', '/clock', body),
    outages: (outages: Array<{ kind: 'agent' | 'hub'; name: string; from: number; to: number }>) => call('POST', '/outages', { outages }),
  };
}

/** Whether a process id is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Java time-skipping test server (from scripts/setup.sh --with-test-server) with
 * phasegate's search attributes registered, for tests of hours-long waits.
 */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  // The SDK gives the JVM 5 s to listen, which a busy 2-core machine sometimes misses: try again.
  let env: TestWorkflowEnvironment | undefined;
  for (let attempt = 1; !env; attempt++) {
    try {
      env = await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
      });
    } catch (err) {
      if (attempt >= 4 || !/did not start within/.test((err as Error).message)) throw err;
    }
  }
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(Object.entries(searchAttributeRegistrations).map(([name, type]) => [name, type === 'Text' ? temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT : temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  return env;
}

/** A whole stack whose Temporal is the time-skipping test server; stop() tears both down. */
export async function startTimeSkippingStack(opts: Pick<TestStackOptions, 'edit'> = {}): Promise<TestStack & { server: TestWorkflowEnvironment }> {
  const server = await startTimeSkippingServer();
  try {
    const env = await startTestStack({ ...opts, temporal: { address: server.address, client: server.client } });
    return {
      ...env,
      server,
      async stop() {
        await env.stop();
        await server.teardown();
      },
    };
  } catch (err) {
    await server.teardown();
    throw err;
  }
}
