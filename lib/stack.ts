import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { PhasegateConfig } from '../config/load';
import { projectRoot, toolPath } from './paths';
import { connectClient, temporalTarget } from './temporal';
import { searchAttributeRegistrations } from '../workflows/lib/visibility';

/**
 * The control worker's environment beyond its parent's: glibc's malloc makes an arena per
 * thread that allocates (up to eight per core), and the SDK core's threads left five 64 MiB
 * arenas (315 MB) resident at 1,000 agents; with two, the worker's peak fell from 896 to 793 MB
 * at the same limits (bench/RESULTS.md, 2026-12-06). docker-compose.yml sets the same
 * (test/unit/docker-compose.test.ts holds them equal).
 */
export const controlWorkerEnvironment = { MALLOC_ARENA_MAX: '2' } as const;

/**
 * Starts and stops the local stack as real child processes: the `temporal` CLI's dev server
 * (SQLite, Web UI), nats-server with JetStream, the fleet simulator, the control worker and
 * one worker per machine. Used by the demo and by the integration tests alike.
 */

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  /** How it is asked to stop (PostgreSQL: SIGINT, its fast shutdown; SIGTERM would wait for every client to leave). */
  stopSignal: NodeJS.Signals;
}

export interface StackOptions {
  config: PhasegateConfig;
  /** Where the dev server database, the NATS store and process logs go. */
  dataDir: string;
  /** Extra PATH entries first in the machine workers' PATH (e.g. a fake nvidia-smi). */
  machinePath?: Record<string, string>;
  startServers?: boolean;
  startSimulator?: boolean;
  startWorkers?: boolean;
  /** Search attributes to register on the embedded dev server (default: phasegate's). */
  searchAttributes?: Record<string, 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList'>;
  onLog?: (line: string) => void;
}

/** Where a process runs, for drills: under a command prefix (e.g. `ip netns exec NS`), with its own configuration. */
export interface Placement {
  prefix?: string[];
  configDir?: string;
}

export class Stack {
  readonly processes = new Map<string, ManagedProcess>();
  private stopping = false;

  constructor(private readonly opts: StackOptions) {
    mkdirSync(path.join(opts.dataDir, 'logs'), { recursive: true });
    // If this process exits without stop() (an uncaught error, process.exit), take the
    // servers down with it; our own Node children also watch for their parent to vanish.
    process.once('exit', () => {
      for (const p of this.processes.values()) p.child.kill('SIGKILL');
    });
  }

  get config(): PhasegateConfig {
    return this.opts.config;
  }

  async start(): Promise<void> {
    const { startServers = true, startSimulator = true, startWorkers = true } = this.opts;
    try {
      if (startServers) await Promise.all([this.startNats(), this.startTemporal()]);
      if (startSimulator && this.config.deployment.simulator.enabled) await this.startSimulator();
      if (startWorkers) await Promise.all([this.startControlWorker(), ...this.config.inventory.machines.map((m) => this.startMachineWorker(m.name))]);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async startNats(): Promise<void> {
    const n = this.config.deployment.nats;
    if (n.mode !== 'embedded') return;
    const store = path.join(this.opts.dataDir, 'nats');
    mkdirSync(store, { recursive: true });
    await this.spawn('nats-server', toolPath('nats-server'), ['-js', '-sd', store, '-a', n.host, '-p', String(n.port), '-n', 'phasegate-nats'], { waitForPort: { host: n.host, port: n.port } });
  }

  async startTemporal(): Promise<void> {
    const t = this.config.deployment.temporal;
    if (t.mode !== 'embedded') return;
    const args = [
      'server', 'start-dev',
      '--ip', t.host,
      '--port', String(t.port),
      '--ui-port', String(t.uiPort),
      '--db-filename', path.join(this.opts.dataDir, 'temporal.db'),
      '--namespace', t.namespace,
      '--log-level', 'warn',
    ];
    for (const [name, type] of Object.entries(this.opts.searchAttributes ?? searchAttributeRegistrations)) args.push('--search-attribute', `${name}=${type}`);
    await this.spawn('temporal', toolPath('temporal'), args, { waitForPort: { host: t.host, port: t.port } });
    await waitForTemporal(this.config.deployment);
  }

  /** One simulator for the whole fleet, or one for some machines (named simulator-<machines>). */
  async startSimulator(machines?: string[], place: Placement = {}): Promise<void> {
    const name = machines ? `simulator-${machines.join('-')}` : 'simulator';
    // The fleet's journal lives with the Temporal history of the same data folder: restarted
    // together, the record and the fleet still agree.
    const journal = path.join(this.opts.dataDir, 'fleet', `${name}.journal`);
    const args = [path.join(projectRoot, 'dist/simulator/main.js'), '--config', place.configDir ?? this.config.configDir, '--journal', journal, '--exit-with-parent'];
    if (machines) args.push('--machines', machines.join(','));
    await this.spawnPlaced(name, args, place, { waitForReadyLine: true });
  }

  async startControlWorker(place: Placement = {}): Promise<void> {
    const heapMb = this.config.deployment.workers.controlWorkerHeapMb;
    const args = [...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), path.join(projectRoot, 'dist/workers/control-worker.js'), '--config', place.configDir ?? this.config.configDir, '--exit-with-parent'];
    await this.spawnPlaced('worker-control', args, place, { waitForReadyLine: true, env: { ...process.env, ...controlWorkerEnvironment } });
  }

  async startMachineWorker(machine: string, place: Placement = {}): Promise<void> {
    // The simulated machine's nvidia-smi (simulator/nvidia-smi.ts) answers from the simulator's
    // GPU model; a test's own PATH entry (a fake that fails or hangs) comes before it.
    const extra = this.opts.machinePath?.[machine];
    const env = { ...process.env, PATH: [extra, path.join(projectRoot, 'simulator', 'bin'), process.env.PATH ?? ''].filter(Boolean).join(path.delimiter), PHASEGATE_NODE: process.execPath };
    const args = [path.join(projectRoot, 'dist/workers/machine-worker.js'), '--machine', machine, '--config', place.configDir ?? this.config.configDir, '--exit-with-parent'];
    await this.spawnPlaced(`worker-${machine}`, args, place, { waitForReadyLine: true, env });
  }

  /** A Node entry point, directly or under a placement's prefix (which must exec it, keeping the pid). */
  private async spawnPlaced(name: string, args: string[], place: Placement, wait: Parameters<Stack['spawn']>[3]): Promise<void> {
    const [command, ...rest] = [...(place.prefix ?? []), process.execPath, ...args];
    await this.spawn(name, command!, rest, wait);
  }

  /** SIGKILL one process (crash drills); resolves once it is gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no process "${name}"`);
    p.child.kill(signal);
    await p.exited;
    this.processes.delete(name);
  }

  /**
   * Stops every process: SIGTERM, then SIGKILL after a grace period (for workers, their own
   * shutdown grace plus a margin, so commands in flight can finish). Leaves nothing behind.
   */
  async stop(graceMs = 8000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Workers first (they drain), then the simulator, then the servers they talk to.
    const order = [...this.processes.values()].sort((a, b) => rank(a.name) - rank(b.name));
    for (const group of [0, 1, 2, 3]) {
      await Promise.all(
        order.filter((p) => rank(p.name) === group).map(async (p) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return;
          p.child.kill(p.stopSignal);
          const grace = rank(p.name) === 0 ? Math.max(graceMs, this.config.deployment.workers.shutdownGraceMs + 5000) : graceMs;
          const timer = setTimeout(() => p.child.kill('SIGKILL'), grace);
          await p.exited;
          clearTimeout(timer);
        }),
      );
    }
    this.processes.clear();
  }

  /**
   * Starts a process of the stack (logs in dataDir/logs/<name>.log), resolves once it is ready
   * (its port answers, or it prints the ready line); lib/production-stack.ts adds its servers here.
   */
  async spawn(
    name: string,
    command: string,
    args: string[],
    wait: { waitForPort?: { host: string; port: number }; waitForReadyLine?: boolean; env?: NodeJS.ProcessEnv; stopSignal?: NodeJS.Signals },
  ): Promise<void> {
    const logFile = path.join(this.opts.dataDir, 'logs', `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(command, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], env: wait.env ?? process.env });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const managed: ManagedProcess = { name, child, logFile, exited, stopSignal: wait.stopSignal ?? 'SIGTERM' };
    this.processes.set(name, managed);
    child.stderr!.pipe(log);
    let ready: () => void = () => undefined;
    const readyLine = new Promise<void>((resolve) => (ready = resolve));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      this.opts.onLog?.(`[${name}] ${line}`);
      if (line.startsWith('{"ready":true')) ready();
    });
    const failed = exited.then((code) => {
      throw new Error(`${name} exited with ${code ?? child.signalCode} during start; see ${logFile}`);
    });
    const started = wait.waitForPort ? waitForPort(wait.waitForPort.host, wait.waitForPort.port, 60_000) : readyLine;
    await Promise.race([started, failed, timeout(90_000, `${name} did not become ready in 90 s; see ${logFile}`)]);
    failed.catch(() => undefined);
  }
}

function rank(name: string): number {
  if (name.startsWith('worker-')) return 0;
  if (name.startsWith('simulator')) return 1;
  // The database last: the Temporal server writes to it until it stops.
  if (name === 'postgres') return 3;
  return 2;
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_r, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

export async function waitForPort(host: string, port: number, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The dev server opens its port before the namespace is usable; wait for the namespace. */
export async function waitForTemporal(deployment: PhasegateConfig['deployment']): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { connection, namespace, close } = await connectClient(deployment, { connectTimeoutMs: 2000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${temporalTarget(deployment).address} not ready: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Ports this process handed out: a port chosen for one service is not yet bound when the next
 * is chosen, so without this two services of one configuration could draw the same port (a
 * test stack once got its UI and a worker's metrics on one).
 */
const handedOut = new Set<number>();

/**
 * A free TCP port on the host, below the kernel's ephemeral range: a port picked now is bound
 * later by a child process, and in between the dev server opens ports of its own; those come
 * from the ephemeral range, so a port picked outside it cannot be taken by them.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (handedOut.has(port)) continue;
    if (await canBind(host, port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between 10000 and ${low} on ${host}`);
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
