import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from 'nats';
import type { Inventory } from '../config/schema/inventory';
import type { Logger } from '../lib/logger';
import { subjects } from '../lib/nats';
import { FleetState, SimulatorError, type ActionKind, type ActionRequest, type AgentFaults, type JournalEntry } from './fleet-state';
import { nvidiaSmiCsv } from './nvidia-smi-csv';
import { HeartbeatGenerator, type HeartbeatMessage, type OutageWindow } from './heartbeats';

/** Wall-clock heartbeats are generated this often (each sender keeps its own interval). */
const wallTickMs = 200;

export interface SimulatorOptions {
  inventory: Inventory;
  /** Only these machines' agents and hubs are simulated by this process. */
  machines: string[];
  adminHost: string;
  adminPort: number;
  failoverDetectMs: number;
  nats?: NatsConnection;
  logger: Logger;
  /**
   * A journal file of every change to the fleet: read back on start, appended to on each change
   * (before the answer goes out), so the fleet outlives a restart of the simulator as a real
   * fleet outlives a restart of its tooling. None: the fleet lives in memory only.
   */
  journalFile?: string;
}

const maxBodyBytes = 64 * 1024;

/**
 * Stands in for the fleet: one real HTTP health endpoint per agent and per hub on the
 * agent's machine address, heartbeats on NATS, and an admin API to act and inject faults.
 */
/** The 1-minute load average a simulated machine reports when no drill set one. */
const simulatedIdleLoad = 0.5;

export class FleetSimulator {
  readonly state: FleetState;
  private readonly agentServers = new Map<string, http.Server>();
  private readonly hubServers = new Map<string, http.Server>();
  private adminServer?: http.Server;
  private heartbeatTimer?: NodeJS.Timeout;
  private readonly heartbeats: HeartbeatGenerator;
  /** 'wall': heartbeats follow real time; 'virtual': a test moves the fleet clock (POST /clock). */
  private clockMode: 'wall' | 'virtual' = 'wall';
  private published = 0;
  private readonly hostOf: Map<string, string>;

  constructor(private readonly opts: SimulatorOptions) {
    const agents = opts.inventory.agents.filter((a) => opts.machines.includes(a.machine));
    const hubs = opts.inventory.hubs.filter((h) => opts.machines.includes(h.machine));
    this.state = new FleetState(agents, hubs);
    this.hostOf = new Map(opts.inventory.machines.map((m) => [m.name, m.host]));
    this.heartbeats = new HeartbeatGenerator({
      senders: [
        ...agents.map((a) => ({ kind: 'agent' as const, name: a.name, machine: a.machine, hub: a.hub, failoverHub: a.failoverHub })),
        ...hubs.map((h) => ({ kind: 'hub' as const, name: h.name, machine: h.machine })),
      ],
      agentIntervalMs: opts.inventory.heartbeats.agentIntervalMs,
      hubIntervalMs: opts.inventory.heartbeats.hubIntervalMs,
      failoverDetectMs: opts.failoverDetectMs,
      isDownNow: (kind, name) => {
        if (kind === 'hub') return this.state.hubsUp.get(name) === false;
        const f = this.state.get(name).faults;
        return f.crashed || f.hung;
      },
      version: (name) => this.state.version(this.state.get(name)),
      startAt: Date.now(),
    });
  }

  get adminUrl(): string {
    const addr = this.adminServer?.address() as AddressInfo | undefined;
    return `http://${this.opts.adminHost}:${addr?.port ?? this.opts.adminPort}`;
  }

  async start(): Promise<void> {
    const file = this.opts.journalFile;
    if (file) {
      if (existsSync(file)) {
        const entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalEntry);
        this.state.replay(entries);
        for (const [hub, up] of this.state.hubsUp) this.heartbeats.setHubUp(hub, up);
        this.opts.logger.info({ entries: entries.length, actions: this.state.actions.length, file }, 'fleet restored from the journal');
      }
      mkdirSync(path.dirname(file), { recursive: true });
      this.state.journal = (entry) => appendFileSync(file, `${JSON.stringify(entry)}\n`);
    }
    for (const agent of this.opts.inventory.agents) {
      if (this.opts.machines.includes(agent.machine) && !this.state.get(agent.name).faults.crashed) await this.openAgent(agent.name);
    }
    for (const hub of this.opts.inventory.hubs) {
      if (this.opts.machines.includes(hub.machine) && this.state.hubsUp.get(hub.name) !== false) await this.openHub(hub.name);
    }
    this.adminServer = http.createServer((req, res) => void this.handleAdmin(req, res));
    await listen(this.adminServer, this.opts.adminPort, this.opts.adminHost);
    this.heartbeatTimer = setInterval(() => {
      // While NATS is away the heartbeats are lost, as a real agent's would be; the simulator
      // itself (health endpoints, actions) carries on.
      if (this.clockMode === 'wall') this.publish(this.heartbeats.advance(Date.now())).catch((err: unknown) => this.opts.logger.warn({ err: String(err) }, 'heartbeats not published'));
    }, wallTickMs);
    this.opts.logger.info(
      { agents: this.agentServers.size, hubs: this.hubServers.size, admin: this.adminUrl },
      'fleet simulator up',
    );
  }

  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const all = [...this.agentServers.values(), ...this.hubServers.values(), ...(this.adminServer ? [this.adminServer] : [])];
    await Promise.all(all.map((s) => close(s)));
    this.agentServers.clear();
    this.hubServers.clear();
  }

  private async openAgent(name: string): Promise<void> {
    const inv = this.opts.inventory.agents.find((a) => a.name === name)!;
    const server = http.createServer((req, res) => this.handleHealth(name, req, res));
    await listen(server, inv.healthPort, this.hostOf.get(inv.machine)!);
    this.agentServers.set(name, server);
  }

  private async openHub(name: string): Promise<void> {
    const hub = this.opts.inventory.hubs.find((h) => h.name === name)!;
    const server = http.createServer((_req, res) => json(res, 200, { hub: name, status: 'ok' }));
    await listen(server, hub.port, this.hostOf.get(hub.machine)!);
    this.hubServers.set(name, server);
  }

  private handleHealth(name: string, _req: http.IncomingMessage, res: http.ServerResponse): void {
    const agent = this.state.get(name);
    const faults = this.state.effectiveFaults(agent);
    if (faults.hung) return; // never answers; the prober's timeout decides
    if (faults.garbledHealth) return void res.socket?.end('garbage, not HTTP\r\n\r\n');
    const answer = () => {
      if (faults.errorStatus) return json(res, faults.errorStatus, { agent: name, status: 'error' });
      json(res, 200, { status: 'ok', ...this.state.view(agent), uptimeS: Math.round((Date.now() - agent.startedAt) / 1000) });
    };
    const slower = faults.slowerWhileApplied;
    const latencyMs = faults.latencyMs + (slower && (agent.changes[slower.change]?.length ?? 0) > 0 ? slower.ms : 0);
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  }

  /** A crash closes the agent's port (connection refused); recovery opens it again. */
  private async setCrashed(name: string, crashed: boolean): Promise<void> {
    const server = this.agentServers.get(name);
    if (crashed && server) {
      this.agentServers.delete(name);
      await close(server);
    } else if (!crashed && !server) {
      this.state.get(name).startedAt = Date.now();
      await this.openAgent(name);
    }
  }

  private async setHub(name: string, up: boolean): Promise<void> {
    if (!this.state.hubsUp.has(name)) throw new SimulatorError(404, `unknown hub "${name}"`);
    this.state.setHubUp(name, up);
    this.heartbeats.setHubUp(name, up);
    const server = this.hubServers.get(name);
    if (!up && server) {
      this.hubServers.delete(name);
      await close(server);
    } else if (up && !server) {
      await this.openHub(name);
    }
  }

  /**
   * Agents fire and forget, as real ones would; the FLEET_HEARTBEATS stream stores them.
   * Flushing every few hundred keeps a burst (a virtual hour at once) from outrunning the
   * server's intake, which would drop messages.
   */
  private async publish(messages: HeartbeatMessage[]): Promise<number> {
    const nc = this.opts.nats;
    if (!nc || nc.isClosed()) return 0;
    let n = 0;
    for (const m of messages) {
      nc.publish(subjects.heartbeat(m.machine, m.name), JSON.stringify(m));
      if (++n % 200 === 0) await nc.flush();
    }
    if (n > 0) await nc.flush();
    this.published += n;
    return n;
  }

  private async handleAdmin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://admin');
      const parts = url.pathname.split('/').filter(Boolean);
      const method = req.method ?? 'GET';
      // A POST's fields come as a JSON body, or as query parameters (so that a catalogue can
      // call the admin API with a plain `curl` argument list: the benchmark's instant undo).
      const body = method === 'POST' ? { ...Object.fromEntries(url.searchParams), ...(await readJson(req)) } : {};
      if (method === 'GET' && parts[0] === 'agents' && parts.length === 1) {
        return json(res, 200, [...this.state.agents.values()].map((a) => this.state.view(a)));
      }
      if (method === 'GET' && parts[0] === 'agents' && parts.length === 2) {
        return json(res, 200, this.state.view(this.state.get(decodeURIComponent(parts[1]!))));
      }
      if (parts[0] === 'actions' && method === 'GET') {
        const agent = url.searchParams.get('agent');
        return json(res, 200, agent ? this.state.actions.filter((a) => a.agent === agent) : this.state.actions);
      }
      if (parts[0] === 'actions' && method === 'POST') {
        const action = str(body, 'action') as ActionKind;
        const agentName = str(body, 'agent');
        const agent = this.state.get(agentName);
        const request: ActionRequest = {
          action,
          agent: agentName,
          ...(body.change !== undefined ? { change: str(body, 'change') } : {}),
          ...(body.stage !== undefined ? { stage: Number(body.stage) } : {}),
          ...(body.key !== undefined ? { key: str(body, 'key') } : {}),
        };
        if (action === 'apply-stage' && (agent.faults.applyDelayMs > 0 || agent.faults.applyHangs > 0)) {
          // The apply takes effect only while the command that asked is still there to see it.
          const hangs = agent.faults.applyHangs > 0;
          if (hangs) this.state.setFaults(agentName, { applyHangs: agent.faults.applyHangs - 1 });
          const gone = await commandGoneWithin(res, hangs ? Number.POSITIVE_INFINITY : agent.faults.applyDelayMs);
          if (gone) {
            this.state.abandon(request, hangs ? 'hung until its command went away' : `its command went away within the ${agent.faults.applyDelayMs} ms the apply takes`);
            this.opts.logger.info({ action, agent: agentName, change: body.change, stage: body.stage }, 'apply abandoned: its command went away');
            return;
          }
        }
        const result = this.state.apply(request);
        this.opts.logger.info({ action, agent: agentName, change: body.change, stage: body.stage, outcome: result.outcome }, 'action');
        return json(res, result.ok ? 200 : 409, result);
      }
      if (parts[0] === 'components' && method === 'GET') {
        return json(res, 200, Object.fromEntries(this.state.components));
      }
      if (parts[0] === 'components' && parts.length === 2 && method === 'POST') {
        const name = decodeURIComponent(parts[1]!);
        const machine = str(body, 'machine');
        if (!this.opts.machines.includes(machine)) throw new SimulatorError(404, `machine "${machine}" is not simulated here`);
        const result = this.state.setComponent(name, machine, body.up === true, str(body, 'key'));
        this.opts.logger.info({ component: name, machine, up: result.up, outcome: result.outcome }, 'component');
        return json(res, 200, { component: name, ...result });
      }
      if (parts[0] === 'faults' && method === 'POST') {
        const agentName = str(body, 'agent');
        const faults = body as Partial<AgentFaults> & { agent?: string };
        delete faults.agent;
        if (faults.crashed !== undefined) await this.setCrashed(agentName, faults.crashed);
        return json(res, 200, this.state.setFaults(agentName, faults));
      }
      if (parts[0] === 'faults' && method === 'DELETE') {
        for (const a of this.state.agents.values()) if (a.faults.crashed) await this.setCrashed(a.name, false);
        for (const hub of this.state.hubsUp.keys()) await this.setHub(hub, true);
        this.state.clearFaults();
        return json(res, 200, { cleared: true });
      }
      if (parts[0] === 'hubs' && parts.length === 2 && method === 'POST') {
        await this.setHub(decodeURIComponent(parts[1]!), body.up === true);
        return json(res, 200, { hub: parts[1], up: body.up === true });
      }
      if (parts[0] === 'metrics' && parts.length === 1 && method === 'GET') {
        // Per-agent metrics a user's own Prometheus would scrape from the agents: here from the
        // simulator, for the plan's PromQL probes (activities/machine/prometheus.ts).
        const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
        const lines = ['# HELP phasegate_sim_agent_error_ratio Share of requests the simulated agent fails.', '# TYPE phasegate_sim_agent_error_ratio gauge'];
        for (const a of this.state.agents.values()) {
          if (!this.opts.machines.includes(a.machine)) continue;
          lines.push(`phasegate_sim_agent_error_ratio{agent="${esc(a.name)}",machine="${esc(a.machine)}"} ${this.state.effectiveFaults(a).errorRatio ?? 0}`);
        }
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        return void res.end(`${lines.join('\n')}\n`);
      }
      if (parts[0] === 'machines' && parts[2] === 'gpu' && parts.length === 3 && method === 'GET') {
        const machine = decodeURIComponent(parts[1]!);
        if (!this.opts.machines.includes(machine)) throw new SimulatorError(404, `machine "${machine}" is not simulated here`);
        return json(res, 200, { machine, ...this.state.gpu(machine) });
      }
      if (parts[0] === 'machines' && parts[2] === 'nvidia-smi' && parts.length === 3 && method === 'GET') {
        // The simulated nvidia-smi's whole answer, so that it runs as one curl (simulator/bin/nvidia-smi).
        const machine = decodeURIComponent(parts[1]!);
        if (!this.opts.machines.includes(machine)) throw new SimulatorError(404, `machine "${machine}" is not simulated here`);
        const gpuFields = url.searchParams.get('query-gpu') ?? undefined;
        const appFields = url.searchParams.get('query-compute-apps') ?? undefined;
        if ((gpuFields === undefined) === (appFields === undefined)) throw new SimulatorError(400, 'ask for exactly one of query-gpu and query-compute-apps');
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end(nvidiaSmiCsv(this.state.gpu(machine), { gpuFields, appFields }));
      }
      if (parts[0] === 'machines' && parts[2] === 'load' && parts.length === 3) {
        const machine = decodeURIComponent(parts[1]!);
        if (!this.opts.machines.includes(machine)) throw new SimulatorError(404, `machine "${machine}" is not simulated here`);
        if (method === 'POST') {
          const load = Number(body.load);
          if (!Number.isFinite(load) || load < 0) throw new SimulatorError(400, '"load" must be a number >= 0');
          this.state.setMachineLoad(machine, load);
        }
        const load = this.state.machineLoad.get(machine);
        // A simulated machine at rest unless a drill says otherwise (not the host's own load).
        return json(res, 200, { machine, load: load ?? simulatedIdleLoad });
      }
      if (parts[0] === 'clock' && method === 'GET') {
        return json(res, 200, { mode: this.clockMode, now: this.heartbeats.now, published: this.published });
      }
      if (parts[0] === 'clock' && method === 'POST') {
        // {"virtual": <ms>}: stop following the wall clock and stand at that instant;
        // {"advanceTo": <ms>}: emit every heartbeat due until then, stamped with its own time.
        if (body.virtual !== undefined) {
          const at = Number(body.virtual);
          if (!Number.isFinite(at) || at <= 0) throw new SimulatorError(400, '"virtual" must be a time in ms since the epoch');
          this.clockMode = 'virtual';
          this.heartbeats.reset(at);
        }
        let sent = 0;
        if (body.advanceTo !== undefined) {
          if (this.clockMode !== 'virtual') throw new SimulatorError(409, 'the fleet clock follows the wall clock; POST {"virtual": <ms>} first');
          const to = Number(body.advanceTo);
          if (!Number.isFinite(to)) throw new SimulatorError(400, '"advanceTo" must be a time in ms since the epoch');
          if (to - this.heartbeats.now > 31 * 24 * 3_600_000) throw new SimulatorError(400, 'advance at most 31 days at once');
          sent = await this.publish(this.heartbeats.advance(to));
        }
        return json(res, 200, { mode: this.clockMode, now: this.heartbeats.now, sent });
      }
      if (parts[0] === 'outages' && method === 'POST') {
        const list = body.outages;
        if (!Array.isArray(list) || list.length > 10_000) throw new SimulatorError(400, '"outages" must be an array of at most 10000 {kind, name, from, to}');
        const outages = list.map((o: Record<string, unknown>, i): OutageWindow => {
          const kind = o.kind;
          const name = String(o.name);
          if (kind !== 'agent' && kind !== 'hub') throw new SimulatorError(400, `outages[${i}].kind must be "agent" or "hub"`);
          if (kind === 'agent') this.state.get(name);
          else if (!this.state.hubsUp.has(name)) throw new SimulatorError(404, `outages[${i}]: unknown hub "${name}"`);
          const from = Number(o.from);
          const to = Number(o.to);
          if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) throw new SimulatorError(400, `outages[${i}]: "from" and "to" must be times with from < to`);
          return { kind, name, from, to };
        });
        this.heartbeats.schedule(outages);
        return json(res, 200, { scheduled: outages.length });
      }
      if (parts[0] === 'health') return json(res, 200, { status: 'ok' });
      throw new SimulatorError(404, `no route ${method} ${url.pathname}`);
    } catch (err) {
      const status = err instanceof SimulatorError ? err.status : 500;
      json(res, status, { error: (err as Error).message });
    }
  }
}

/**
 * Resolves true if the client closes the connection before `ms` pass (the command that sent
 * the request was killed, or gave up), false once `ms` have passed with it still there.
 */
function commandGoneWithin(res: http.ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed || res.socket?.destroyed) return resolve(true);
    const onClose = () => {
      if (timer) clearTimeout(timer);
      resolve(true);
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          res.off('close', onClose);
          resolve(false);
        }, ms)
      : undefined;
    res.once('close', onClose);
  });
}

function str(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw new SimulatorError(400, `"${field}" must be a non-empty string`);
  return v;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new SimulatorError(413, `body over ${maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new SimulatorError(400, 'body must be a JSON object');
  }
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
