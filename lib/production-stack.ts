import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type PhasegateConfig } from '../config/load';
import { msToTs } from '@temporalio/common/lib/time';
import { connectClient } from './temporal';
import { defaultConfigDir, projectRoot, toolsBinDir } from './paths';
import { createMachineLink, type MachineLink } from './netns';
import { relay, type Relay } from './relay';
import { freePort, Stack, waitForPort, waitForTemporal } from './stack';
import type { GeneratedFleet } from '../simulator/generate-fleet';

/**
 * The production-shaped stack on one host, as ordinary processes (no Docker here): PostgreSQL
 * with Temporal's default store and SQL visibility made by Temporal's own schema tool; the
 * Temporal server (frontend, history, matching and worker services) and its Web UI server; three
 * nats-servers in one JetStream cluster on file storage, every write flushed before it is
 * acknowledged, phasegate's streams at three replicas; then the simulator, the control worker
 * and a worker per machine, as on the embedded stack (lib/stack.ts).
 *
 * Its configuration is generated from config/production/ (deployment.json, nats/cluster.conf:
 * the files docker-compose.yml uses), with this host's addresses and ports in place of the
 * compose service names; the fleet is the default simulated one (config/defaults/). The
 * Temporal server runs as one process with its four services (`start --service ...` each):
 * separate processes would each hold their own membership ring and caches, four times the memory
 * on a two-core machine, and nothing phasegate does depends on where each service runs.
 *
 * Everything lives in `dataDir` (PostgreSQL's cluster, NATS stores, logs, the generated
 * configuration and the database password, readable by its owner only); a second start reuses it.
 */

export interface ProductionPorts {
  postgres: number;
  temporal: { frontend: number; frontendHttp: number; history: number; matching: number; worker: number; membership: [number, number, number, number]; metrics: number };
  ui: number;
  nats: { client: [number, number, number]; cluster: [number, number, number]; monitor: [number, number, number] };
  simulatorAdmin: number;
  metrics: Record<string, number>;
}

export const defaultProductionPorts: ProductionPorts = {
  // 5433: a PostgreSQL of the machine's own may hold 5432.
  postgres: 5433,
  temporal: { frontend: 7233, frontendHttp: 7243, history: 7234, matching: 7235, worker: 7239, membership: [6933, 6934, 6935, 6939], metrics: 8000 },
  ui: 8233,
  nats: { client: [4222, 4223, 4224], cluster: [6222, 6223, 6224], monitor: [8222, 8223, 8224] },
  simulatorAdmin: 7900,
  metrics: { control: 9464, mainpc: 9465, pc2: 9466 },
};

const host = '127.0.0.1';

/** Ports for every listener of the stack, each free now and none handed out twice (tests, benches beside other stacks). */
export async function freeProductionPorts(machines: readonly string[] = ['mainpc', 'pc2']): Promise<ProductionPorts> {
  const one = (): Promise<number> => freePort();
  const three = async (): Promise<[number, number, number]> => [await one(), await one(), await one()];
  const metrics: Record<string, number> = { control: await one() };
  for (const m of machines) metrics[m] = await one();
  return {
    postgres: await one(),
    temporal: { frontend: await one(), frontendHttp: await one(), history: await one(), matching: await one(), worker: await one(), membership: [await one(), await one(), await one(), await one()], metrics: await one() },
    ui: await one(),
    nats: { client: await three(), cluster: await three(), monitor: await three() },
    simulatorAdmin: await one(),
    metrics,
  };
}

function tool(name: 'temporal-server' | 'temporal-sql-tool' | 'temporal-ui-server' | 'nats-server'): string {
  const p = path.join(toolsBinDir, name);
  if (!existsSync(p)) throw new Error(`${name} is not installed at ${p}; run scripts/setup.sh --with-production`);
  return p;
}

/** Debian's PostgreSQL server programs (not on the PATH): the newest installed major version. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error("PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb); run scripts/setup.sh --with-production");
  return path.join(root, versions[0]!, 'bin');
}

/**
 * PostgreSQL refuses to run as root: under root, its programs run as the `postgres` user of
 * Debian's package (setpriv execs, so the process phasegate holds is the server itself).
 */
function asPostgres(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', command, ...args]];
}

export interface ProductionStackOptions {
  dataDir: string;
  /**
   * Where the machines' processes run: `netns`, each machine its own host in a network namespace
   * (lib/netns.ts; needs root), its simulator and worker inside, reaching Temporal and NATS over
   * the link through relays on the link's host end; `loopback`, all on this host's loopback.
   * Default: `netns` when running as root, else `loopback`.
   */
  machineHosts?: 'netns' | 'loopback';
  ports?: ProductionPorts;
  /**
   * A generated fleet (simulator/generate-fleet.ts: inventory, catalogues, plan as
   * plans/<plan id>.json) in place of the default simulated one; `ports.metrics` must name each
   * of its machines.
   */
  fleet?: GeneratedFleet;
  /** Edits to the generated deployment before it is written (tests: a plan folder, timings). */
  editDeployment?: (deployment: any) => void;
  startWorkers?: boolean;
  onLog?: (line: string) => void;
}

export class ProductionStack {
  readonly ports: ProductionPorts;
  readonly configDir: string;
  private stack!: Stack;
  private config: PhasegateConfig | undefined;
  private password = '';
  private readonly links = new Map<string, MachineLink>();
  private readonly relays: Relay[] = [];
  readonly machineHosts: 'netns' | 'loopback';

  constructor(private readonly opts: ProductionStackOptions) {
    this.ports = opts.ports ?? defaultProductionPorts;
    this.configDir = path.join(opts.dataDir, 'config');
    this.machineHosts = opts.machineHosts ?? (process.getuid?.() === 0 ? 'netns' : 'loopback');
  }

  /** The network namespace link of a machine (netns mode), for drills that cut it. */
  link(machine: string): MachineLink | undefined {
    return this.links.get(machine);
  }

  /** The simulator admin API that serves a machine's agents (one per machine host in netns mode). */
  simulatorAdminFor(machine: string): string {
    const link = this.links.get(machine);
    return `http://${link ? link.nsAddress : host}:${this.ports.simulatorAdmin}`;
  }

  /** Every simulator admin API of the stack (one, or one per machine). */
  simulatorAdmins(): string[] {
    return this.links.size ? [...this.links.keys()].map((m) => this.simulatorAdminFor(m)) : [this.simulatorAdminFor('')];
  }

  get processes(): Stack['processes'] {
    return this.stack.processes;
  }

  get phasegateConfig(): PhasegateConfig {
    return this.prepare();
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  get uiUrl(): string {
    return `http://${host}:${this.ports.ui}`;
  }

  /** Writes phasegate's configuration for this stack (from config/production/) and loads it; start() calls it if not done. */
  prepare(): PhasegateConfig {
    if (this.config) return this.config;
    const d = this.opts.dataDir;
    for (const dir of ['logs', 'secrets', 'temporal/config/dynamicconfig', 'ui/config']) mkdirSync(path.join(d, dir), { recursive: true });
    this.password = this.secret();
    this.writePhasegateConfig();
    this.config = loadConfig(this.configDir);
    return this.config;
  }

  /** Starts everything, servers first. */
  async start(): Promise<void> {
    this.prepare();
    const netns = this.machineHosts === 'netns';
    const startWorkers = this.opts.startWorkers ?? true;
    this.stack = new Stack({ config: this.config!, dataDir: this.opts.dataDir, startServers: false, startSimulator: !netns, startWorkers: startWorkers && !netns, ...(this.opts.onLog ? { onLog: this.opts.onLog } : {}) });
    try {
      await Promise.all([this.startPostgresAndTemporal(), this.startNatsCluster()]);
      await this.startUi();
      await this.stack.start();
      if (netns) await this.startMachineHosts(startWorkers);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.stack?.stop(15_000);
    await Promise.all(this.relays.splice(0).map((r) => r.close()));
    for (const link of this.links.values()) link.destroy();
    this.links.clear();
  }

  /**
   * Each machine as its own host: a network namespace joined by a veth pair, with relays on the
   * link's host end to Temporal's frontend and the three NATS nodes (which listen on 127.0.0.1
   * only), its own copy of the configuration pointing there, and its simulator and worker inside.
   * The control worker stays on this host, the control host.
   */
  private async startMachineHosts(startWorkers: boolean): Promise<void> {
    const config = this.prepare();
    const ports = [this.ports.temporal.frontend, ...this.ports.nats.client];
    // Killed without stop() (a signal, an uncaught error): the namespaces go with this process
    // (one listener for every link: fifty machines would pass Node's listener warning).
    process.once('exit', () => {
      for (const link of this.links.values()) link.destroy();
    });
    for (const m of config.inventory.machines.map((x) => x.name)) {
      // Each on its own addresses (lib/netns.ts): fifty links drawn at random would often share one.
      const link = createMachineLink();
      this.links.set(m, link);
      for (const port of ports) this.relays.push(await relay({ host: link.hostAddress, port }, { host, port }));
      const dir = `${this.configDir}-${m}`;
      cpSync(this.configDir, dir, { recursive: true });
      const file = path.join(dir, 'deployment.json');
      const d = JSON.parse(readFileSync(file, 'utf8'));
      d.temporal.address = `${link.hostAddress}:${this.ports.temporal.frontend}`;
      d.nats.servers = this.ports.nats.client.map((c) => `nats://${link.hostAddress}:${c}`);
      d.simulator.adminHost = link.nsAddress;
      writeFileSync(file, `${JSON.stringify(d, null, 2)}\n`);
      const place = { prefix: link.prefix, configDir: dir };
      await this.stack.startSimulator([m], place);
      if (startWorkers) await this.stack.startMachineWorker(m, place);
    }
    if (startWorkers) await this.stack.startControlWorker();
  }

  /** Stops one process with a signal (fault drills) and resolves once it is gone. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.stack.kill(name, signal);
  }

  /** The database password: made once, kept in dataDir/secrets, readable by its owner only. */
  private secret(): string {
    const file = path.join(this.opts.dataDir, 'secrets', 'postgres-password');
    if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
    return readFileSync(file, 'utf8').trim();
  }

  private writePhasegateConfig(): void {
    const p = this.ports;
    mkdirSync(path.join(this.configDir, 'catalogues'), { recursive: true });
    const deployment = JSON.parse(readFileSync(path.join(projectRoot, 'config', 'production', 'deployment.json'), 'utf8'));
    deployment.temporal = { ...deployment.temporal, address: `${host}:${p.temporal.frontend}`, uiUrl: this.uiUrl };
    deployment.nats = { ...deployment.nats, servers: p.nats.client.map((c) => `nats://${host}:${c}`) };
    // The simulated fleet stands in for the machines (config/defaults/), as on the embedded stack.
    deployment.simulator = { ...deployment.simulator, enabled: true, adminPort: p.simulatorAdmin };
    deployment.metrics = { host, ports: p.metrics };
    deployment.inventory = 'inventory.json';
    deployment.plansDir = 'plans';
    deployment.dataDir = path.relative(projectRoot, path.join(this.opts.dataDir, 'run'));
    const fleet = this.opts.fleet;
    if (fleet) {
      const machines = Object.keys(fleet.catalogues);
      const unported = machines.filter((m) => p.metrics[m] === undefined);
      if (unported.length) throw new Error(`production stack: ports.metrics names no port for machine(s) ${unported.slice(0, 5).join(', ')}${unported.length > 5 ? ', ...' : ''} of the generated fleet (freeProductionPorts(machines) makes one each)`);
      deployment.catalogues = Object.fromEntries(machines.map((m) => [m, `catalogues/${m}.json`]));
      writeFileSync(path.join(this.configDir, 'inventory.json'), `${JSON.stringify(fleet.inventory, null, 2)}\n`);
      for (const [m, c] of Object.entries(fleet.catalogues)) writeFileSync(path.join(this.configDir, 'catalogues', `${m}.json`), `${JSON.stringify(c, null, 2)}\n`);
      mkdirSync(path.join(this.configDir, 'plans'), { recursive: true });
      writeFileSync(path.join(this.configDir, 'plans', `${String(fleet.plan.id)}.json`), `${JSON.stringify(fleet.plan, null, 2)}\n`);
    } else {
      const defaults = JSON.parse(readFileSync(path.join(defaultConfigDir, 'deployment.json'), 'utf8')) as { catalogues: Record<string, string> };
      deployment.catalogues = defaults.catalogues;
      copyFileSync(path.join(defaultConfigDir, 'inventory.json'), path.join(this.configDir, 'inventory.json'));
      for (const file of Object.values(defaults.catalogues)) copyFileSync(path.join(defaultConfigDir, file), path.join(this.configDir, file));
      cpSync(path.join(defaultConfigDir, 'plans'), path.join(this.configDir, 'plans'), { recursive: true });
    }
    this.opts.editDeployment?.(deployment);
    writeFileSync(path.join(this.configDir, 'deployment.json'), `${JSON.stringify(deployment, null, 2)}\n`);
  }

  private async startPostgresAndTemporal(): Promise<void> {
    const pgData = path.join(this.opts.dataDir, 'postgres');
    const socketDir = path.join(this.opts.dataDir, 'postgres-socket');
    const asRoot = process.getuid?.() === 0;
    if (!existsSync(path.join(pgData, 'PG_VERSION'))) {
      mkdirSync(pgData, { recursive: true, mode: 0o700 });
      const pwfile = path.join(this.opts.dataDir, 'secrets', 'postgres-password');
      if (asRoot) {
        const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
        chownSync(pgData, uid, gid);
        chownSync(pwfile, uid, gid);
      }
      const [cmd, args] = asPostgres(path.join(postgresBin(), 'initdb'), ['-D', pgData, '-U', 'temporal', `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer', '-E', 'UTF8', '--no-instructions']);
      execFileSync(cmd, args, { stdio: 'pipe', timeout: 120_000 });
    }
    mkdirSync(socketDir, { recursive: true });
    if (asRoot) execFileSync('chown', ['postgres:postgres', socketDir]);
    await this.startPostgres();
    await this.ensureSchema();
    await this.startTemporal();
  }

  /** Starts (or starts again, after a drill stopped it) PostgreSQL on its data folder. */
  async startPostgres(): Promise<void> {
    const pgData = path.join(this.opts.dataDir, 'postgres');
    const socketDir = path.join(this.opts.dataDir, 'postgres-socket');
    const [cmd, args] = asPostgres(path.join(postgresBin(), 'postgres'), ['-D', pgData, '-p', String(this.ports.postgres), '-c', `listen_addresses=${host}`, '-c', `unix_socket_directories=${socketDir}`, '-c', 'max_connections=200']);
    // SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to disconnect).
    await this.stack.spawn('postgres', cmd, args, { waitForPort: { host, port: this.ports.postgres }, stopSignal: 'SIGINT' });
  }

  /** Starts (or starts again) the Temporal server process on the configuration start() wrote. */
  async startTemporalServer(): Promise<void> {
    const root = path.join(this.opts.dataDir, 'temporal');
    const args = ['--root', root, '--config', 'config', '--env', 'production', '--allow-no-auth', 'start', '--service', 'frontend', '--service', 'history', '--service', 'matching', '--service', 'worker'];
    await this.stack.spawn('temporal-server', tool('temporal-server'), args, { waitForPort: { host, port: this.ports.temporal.frontend } });
  }

  /** Temporal's databases and schemas, by its schema tool, once (a marker file says they are there). */
  private async ensureSchema(): Promise<void> {
    const schemaRoot = path.join(toolsBinDir, '..', 'temporal-schema', 'postgresql', 'v12');
    if (!existsSync(schemaRoot)) throw new Error(`Temporal's schema files are not at ${schemaRoot}; run scripts/setup.sh --with-production`);
    const base = ['--plugin', 'postgres12', '--ep', host, '--port', String(this.ports.postgres), '--user', 'temporal', '--password', this.password];
    for (const [db, dir] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
      const marker = path.join(this.opts.dataDir, 'postgres', `.phasegate-schema-${db}`);
      const sql = (...args: string[]) => execFileSync(tool('temporal-sql-tool'), [...base, '--db', db, ...args], { stdio: 'pipe', timeout: 120_000 });
      if (!existsSync(marker)) {
        sql('create-database');
        sql('setup-schema', '-v', '0.0');
      }
      // update-schema is idempotent: it applies only versions newer than the database's.
      sql('update-schema', '-d', path.join(schemaRoot, dir, 'versioned'));
      writeFileSync(marker, 'ok\n');
    }
  }

  private async startTemporal(): Promise<void> {
    const p = this.ports.temporal;
    const root = path.join(this.opts.dataDir, 'temporal');
    const store = (db: string, maxConns: number) => ({
      sql: { pluginName: 'postgres12', databaseName: db, connectAddr: `${host}:${this.ports.postgres}`, connectProtocol: 'tcp', user: 'temporal', password: this.password, maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h' },
    });
    const rpc = (grpcPort: number, membershipPort: number, extra: object = {}) => ({ rpc: { grpcPort, membershipPort, bindOnIP: host, ...extra } });
    // JSON is YAML: the server reads this file as its YAML configuration.
    const config = {
      log: { stdout: true, level: 'warn' },
      persistence: { defaultStore: 'postgres-default', visibilityStore: 'postgres-visibility', numHistoryShards: 4, datastores: { 'postgres-default': store('temporal', 20), 'postgres-visibility': store('temporal_visibility', 10) } },
      global: { membership: { maxJoinDuration: '30s', broadcastAddress: host }, metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `${host}:${p.metrics}` } } },
      services: {
        frontend: rpc(p.frontend, p.membership[0], { httpPort: p.frontendHttp }),
        history: rpc(p.history, p.membership[1]),
        matching: rpc(p.matching, p.membership[2]),
        worker: rpc(p.worker, p.membership[3]),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `${host}:${p.frontend}`, httpAddress: `${host}:${p.frontendHttp}` } },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
      namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
      dynamicConfigClient: { filepath: path.join(root, 'config', 'dynamicconfig', 'production.yaml'), pollInterval: '10s' },
    };
    const configFile = path.join(root, 'config', 'production.yaml');
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    chmodSync(configFile, 0o600);
    // Search attributes added by the control worker are read at once, not after a cache refresh.
    writeFileSync(path.join(root, 'config', 'dynamicconfig', 'production.yaml'), JSON.stringify({ 'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true, constraints: {} }] }, null, 2));
    await this.startTemporalServer();
    await this.ensureNamespace();
    await waitForTemporal(this.prepare().deployment);
  }

  private async ensureNamespace(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const c = await connectClient(this.prepare().deployment, { connectTimeoutMs: 3000 });
        try {
          await c.connection.workflowService.registerNamespace({ namespace: c.namespace, workflowExecutionRetentionPeriod: msToTs(7 * 24 * 3600 * 1000) });
        } catch (err) {
          // 6: ALREADY_EXISTS, a second start of the same stack.
          if ((err as { code?: number }).code !== 6) throw err;
        } finally {
          await c.close();
        }
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`could not register the namespace: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async startUi(): Promise<void> {
    const root = path.join(this.opts.dataDir, 'ui');
    const config = { temporalGrpcAddress: `${host}:${this.ports.temporal.frontend}`, host, port: this.ports.ui, enableUi: true, defaultNamespace: this.prepare().deployment.temporal.namespace, cors: { allowOrigins: [this.uiUrl] }, auth: { enabled: false } };
    writeFileSync(path.join(root, 'config', 'production.yaml'), `${JSON.stringify(config, null, 2)}\n`);
    await this.stack.spawn('temporal-ui', tool('temporal-ui-server'), ['--root', root, '--config', 'config', '--env', 'production', 'start'], { waitForPort: { host, port: this.ports.ui } });
  }

  /** Starts (or starts again, after a drill stopped it) node i of the NATS cluster on its own store. */
  async startNatsNode(i: number): Promise<void> {
    const file = path.join(this.opts.dataDir, `nats-${i + 1}.conf`);
    await this.stack.spawn(`nats-${i + 1}`, tool('nats-server'), ['-c', file, '-n', `nats-${i + 1}`], { waitForPort: { host, port: this.ports.nats.client[i]! } });
  }

  /**
   * Three nats-servers from config/production/nats/cluster.conf, each with this host's ports and
   * its own store in place of the compose file's service names and volume.
   */
  private async startNatsCluster(): Promise<void> {
    const n = this.ports.nats;
    const template = readFileSync(path.join(projectRoot, 'config', 'production', 'nats', 'cluster.conf'), 'utf8');
    const routes = n.cluster.map((r) => `    nats-route://${host}:${r}`).join('\n');
    await Promise.all(
      [0, 1, 2].map(async (i) => {
        const store = path.join(this.opts.dataDir, `nats-${i + 1}`);
        mkdirSync(store, { recursive: true });
        const conf = template
          .replace(/^port: \d+$/m, `port: ${n.client[i]}\nhost: ${host}`)
          .replace(/^http_port: \d+$/m, `http: ${host}:${n.monitor[i]}`)
          .replace(/store_dir: \S+/, `store_dir: ${store}`)
          .replace(/(cluster \{[\s\S]*?)port: \d+/, `$1host: ${host}\n  port: ${n.cluster[i]}`)
          .replace(/routes: \[[\s\S]*?\]/, `routes: [\n${routes}\n  ]`);
        writeFileSync(path.join(this.opts.dataDir, `nats-${i + 1}.conf`), conf);
        await this.startNatsNode(i);
      }),
    );
    // JetStream is usable once the cluster has elected its meta leader (/healthz checks it).
    const deadline = Date.now() + 60_000;
    for (const port of n.monitor) {
      for (;;) {
        const ok = await fetch(`http://${host}:${port}/healthz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`nats on monitor port ${port} not healthy within 60 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await waitForPort(host, n.client[0], 10_000);
  }
}
