import type { Agent, Hub } from '../config/schema/inventory';

/** Faults an operator or a test can inject into one simulated agent. */
export interface AgentFaults {
  /** Added to every health response. */
  latencyMs: number;
  /**
   * A change that makes the agent itself slower: `ms` added to every health response while a
   * stage of `change` is applied, gone once it is undone (the degradation judge's drills).
   */
  slowerWhileApplied?: { change: string; ms: number } | null;
  /** GPU memory the agent's process holds (MiB), in place of its category's usual amount. */
  gpuMemoryMiB?: number | null;
  /** Share of its requests the agent fails (0-1), served as a Prometheus gauge on the simulator's /metrics. */
  errorRatio?: number;
  /** Health endpoint answers with this HTTP status instead of 200. */
  errorStatus?: number;
  /** Process gone: the health port refuses connections, no heartbeats. */
  crashed: boolean;
  /** Process stuck: the health endpoint accepts and never answers, no heartbeats. */
  hung: boolean;
  /** The health endpoint answers with bytes that are not HTTP: a probe cannot measure (no data), the agent still works. */
  garbledHealth: boolean;
  /** The agent's integration check (databases, external connections) fails. */
  integrationFailing: boolean;
  /**
   * Each apply-stage takes this long before it takes effect (for crash-in-the-middle drills).
   * The effect belongs to the command that asked for it: if that command goes away first
   * (killed on its timeout), the apply is abandoned and recorded as such.
   */
  applyDelayMs: number;
  /** The next N apply-stage requests hang until the command that sent them goes away (then they are abandoned). */
  applyHangs: number;
  /** undo-stage fails (a broken undo must stop for a human), until this is cleared. */
  undoFails: boolean;
  /** The next N undo-stage requests fail, later ones work (an undo that fails once). */
  undoFailures: number;
  /** The next N verify-marker requests cannot be answered (503: the check could not tell), later ones are. */
  markerReadFailures: number;
  /**
   * The fault was caused by the change: it shows only while a stage of a change is applied (so
   * the pre-flight check before stage 1 finds the agent healthy) and goes away once every stage
   * is undone, as a real regression would. Lets drills check that the agent is healthy after a
   * rollback.
   */
  clearOnUndo: boolean;
}

export const noFaults = (): AgentFaults => ({
  latencyMs: 0,
  crashed: false,
  hung: false,
  garbledHealth: false,
  integrationFailing: false,
  applyDelayMs: 0,
  applyHangs: 0,
  undoFails: false,
  undoFailures: 0,
  markerReadFailures: 0,
  clearOnUndo: false,
});

export interface SimAgent {
  name: string;
  machine: string;
  category: string;
  /** The process id the agent reports on its health endpoint (made up, unique in the fleet). */
  pid: number;
  baseVersion: string;
  hub: string;
  failoverHub: string;
  /** Stages applied, per change being rolled out. */
  changes: Record<string, number[]>;
  /** Backups taken, as `change/stage`. */
  backups: string[];
  faults: AgentFaults;
  startedAt: number;
}

export type ActionKind = 'backup' | 'apply-stage' | 'undo-stage' | 'verify-marker' | 'integration-check' | 'component-up' | 'component-down';
export type ActionOutcome = 'applied' | 'undone' | 'already-applied' | 'nothing-to-undo' | 'duplicate-key' | 'backed-up' | 'ok' | 'failed' | 'abandoned';

/**
 * One change to the simulated fleet, as written to the simulator's journal: replaying the
 * journal on start gives back the same fleet and the same record, so a simulator restarted
 * under a running phase (the main command run again) finds the fleet as the phase left it.
 */
export type JournalEntry =
  | { t: 'apply'; req: ActionRequest; at: number }
  | { t: 'abandoned'; req: ActionRequest; at: number; detail: string }
  | { t: 'faults'; agent: string; faults: Partial<AgentFaults> }
  | { t: 'clear-faults' }
  | { t: 'component'; name: string; machine: string; up: boolean; key: string; at: number }
  | { t: 'hub'; name: string; up: boolean }
  | { t: 'load'; machine: string; load: number };

/** One action the simulator received, as the record tests compare with the workflows'. */
export interface ActionRecord {
  seq: number;
  at: string;
  action: ActionKind;
  /** The agent acted on, or the component for component-up / component-down. */
  agent: string;
  change?: string;
  stage?: number;
  key?: string;
  outcome: ActionOutcome;
  detail?: string;
}

export interface ActionRequest {
  action: ActionKind;
  agent: string;
  change?: string;
  stage?: number;
  key?: string;
}

export interface ActionResult {
  ok: boolean;
  outcome: ActionOutcome;
  detail?: string;
  agent: AgentView;
}

export interface AgentView {
  name: string;
  machine: string;
  version: string;
  changes: Record<string, number[]>;
  activeHub: string | null;
  pid: number;
  faults: AgentFaults;
}

export const stagesPerChange = 3;

/** The simulated machines' GPU: 24 GiB, as an RTX 4090 or 3090 has. */
export const simulatedGpuTotalMiB = 24_576;
const simulatedDriverMiB = 300;
/** What an agent's process holds on the GPU, by category (MiB); other categories use none. */
const gpuMiBByCategory: Record<string, number> = { 'model-loading': 600, 'gpu-compute': 400, 'gpu-monitoring': 50 };

/**
 * The state of the simulated fleet: versions, stage markers, faults and hub status. The
 * HTTP layer (server.ts) only translates requests into calls of this class.
 */
export class FleetState {
  readonly agents = new Map<string, SimAgent>();
  readonly hubsUp = new Map<string, boolean>();
  readonly machineLoad = new Map<string, number>();
  readonly actions: ActionRecord[] = [];
  /** Infrastructure the plans' operations deploy (EdgeHub container, Pushgateway, ...), by name. */
  readonly components = new Map<string, { machine: string; up: boolean }>();
  private readonly resultsByKey = new Map<string, ActionResult>();
  private readonly componentKeys = new Set<string>();
  /** Called with every change (the server appends it to its journal file). */
  journal: ((entry: JournalEntry) => void) | null = null;

  constructor(agents: Agent[], hubs: Hub[], now: () => number = Date.now) {
    agents.forEach((a, i) => {
      this.agents.set(a.name, {
        name: a.name,
        machine: a.machine,
        category: a.category,
        pid: 40_000 + i,
        baseVersion: a.version,
        hub: a.hub,
        failoverHub: a.failoverHub,
        changes: {},
        backups: [],
        faults: noFaults(),
        startedAt: now(),
      });
    });
    for (const h of hubs) this.hubsUp.set(h.name, true);
  }

  /**
   * The machine's GPU as its nvidia-smi would report it (simulator/nvidia-smi.ts): one GPU per
   * machine, of simulatedGpuTotalMiB, holding what its running agents' processes hold (by
   * category, or an injected gpuMemoryMiB), plus the driver's own share.
   */
  gpu(machine: string): { gpus: Array<{ uuid: string; usedMiB: number; totalMiB: number }>; apps: Array<{ pid: number; usedMiB: number; gpuUuid: string }> } {
    const uuid = `GPU-sim-${machine}-0`;
    const apps = [...this.agents.values()]
      .filter((a) => a.machine === machine && !a.faults.crashed)
      .map((a) => ({ pid: a.pid, usedMiB: a.faults.gpuMemoryMiB ?? gpuMiBByCategory[a.category] ?? 0, gpuUuid: uuid }))
      .filter((p) => p.usedMiB > 0);
    const usedMiB = Math.min(simulatedGpuTotalMiB, simulatedDriverMiB + apps.reduce((s, p) => s + p.usedMiB, 0));
    return { gpus: [{ uuid, usedMiB, totalMiB: simulatedGpuTotalMiB }], apps };
  }

  /**
   * The faults the agent shows now: a fault caused by the change (clearOnUndo) lies dormant
   * while no stage of any change is applied. A crash is the process's state and always shows.
   */
  effectiveFaults(agent: SimAgent): AgentFaults {
    const changed = Object.values(agent.changes).some((stages) => stages.length > 0);
    if (!agent.faults.clearOnUndo || changed) return agent.faults;
    const { errorStatus: _e, ...rest } = agent.faults;
    return { ...rest, latencyMs: 0, hung: false, garbledHealth: false, integrationFailing: false, errorRatio: 0 };
  }

  get(name: string): SimAgent {
    const agent = this.agents.get(name);
    if (!agent) throw new SimulatorError(404, `unknown agent "${name}"`);
    return agent;
  }

  /** Reported version: the base plus every change whose three stages are all applied. */
  version(agent: SimAgent): string {
    const complete = Object.entries(agent.changes)
      .filter(([, stages]) => stages.length === stagesPerChange)
      .map(([change]) => change)
      .sort();
    return complete.length ? `${agent.baseVersion}+${complete.join('+')}` : agent.baseVersion;
  }

  activeHub(agent: SimAgent): string | null {
    if (this.hubsUp.get(agent.hub)) return agent.hub;
    if (this.hubsUp.get(agent.failoverHub)) return agent.failoverHub;
    return null;
  }

  view(agent: SimAgent): AgentView {
    return {
      name: agent.name,
      machine: agent.machine,
      version: this.version(agent),
      changes: Object.fromEntries(Object.entries(agent.changes).map(([c, s]) => [c, [...s]])),
      activeHub: this.activeHub(agent),
      pid: agent.pid,
      faults: { ...agent.faults },
    };
  }

  setFaults(name: string, faults: Partial<AgentFaults>): AgentView {
    const agent = this.get(name);
    agent.faults = { ...agent.faults, ...faults };
    this.journal?.({ t: 'faults', agent: name, faults });
    return this.view(agent);
  }

  clearFaults(): void {
    for (const agent of this.agents.values()) agent.faults = noFaults();
    for (const hub of this.hubsUp.keys()) this.hubsUp.set(hub, true);
    this.machineLoad.clear();
    this.journal?.({ t: 'clear-faults' });
  }

  setHubUp(name: string, up: boolean): void {
    this.hubsUp.set(name, up);
    this.journal?.({ t: 'hub', name, up });
  }

  setMachineLoad(machine: string, load: number): void {
    this.machineLoad.set(machine, load);
    this.journal?.({ t: 'load', machine, load });
  }

  /** An apply whose command went away before it took effect: recorded, nothing changed. */
  abandon(req: ActionRequest, detail: string, now: () => number = Date.now): void {
    this.get(req.agent);
    this.record(req, 'abandoned', now, detail);
    this.journal?.({ t: 'abandoned', req, at: now(), detail });
  }

  /** Replays a journal written by an earlier run of the simulator (nothing is journaled again). */
  replay(entries: JournalEntry[]): void {
    const journal = this.journal;
    this.journal = null;
    try {
      for (const e of entries) {
        if (e.t === 'apply') this.apply(e.req, () => e.at);
        else if (e.t === 'abandoned') this.abandon(e.req, e.detail, () => e.at);
        else if (e.t === 'faults') this.setFaults(e.agent, e.faults);
        else if (e.t === 'clear-faults') this.clearFaults();
        else if (e.t === 'component') this.setComponent(e.name, e.machine, e.up, e.key, () => e.at);
        else if (e.t === 'hub') this.setHubUp(e.name, e.up);
        else if (e.t === 'load') this.setMachineLoad(e.machine, e.load);
      }
    } finally {
      this.journal = journal;
    }
  }

  /**
   * Applies one action. Keyed actions are idempotent by key: a repeated key returns the first
   * result and changes nothing, which is what makes a retried activity safe.
   */
  apply(req: ActionRequest, now: () => number = Date.now): ActionResult {
    const agent = this.get(req.agent);
    const keyId = req.key ? `${req.action}:${req.key}` : undefined;
    const previous = keyId ? this.resultsByKey.get(keyId) : undefined;
    if (previous) {
      this.journal?.({ t: 'apply', req, at: now() });
      this.record(req, 'duplicate-key', now, `first outcome: ${previous.outcome}`);
      return { ...previous, outcome: 'duplicate-key', agent: this.view(agent) };
    }
    let outcome: ActionOutcome;
    let detail: string | undefined;
    let ok = true;
    const change = req.change;
    const stage = req.stage;
    switch (req.action) {
      case 'backup': {
        need(change, stage);
        agent.backups.push(`${change}/${stage}`);
        outcome = 'backed-up';
        break;
      }
      case 'apply-stage': {
        need(change, stage);
        const stages = (agent.changes[change!] ??= []);
        if (stages.includes(stage!)) {
          outcome = 'already-applied';
        } else if (stage! > 1 && !stages.includes(stage! - 1)) {
          ok = false;
          outcome = 'failed';
          detail = `stage ${stage} of ${change} needs stage ${stage! - 1} first`;
        } else {
          stages.push(stage!);
          outcome = 'applied';
        }
        break;
      }
      case 'undo-stage': {
        need(change, stage);
        const stages = agent.changes[change!] ?? [];
        if (agent.faults.undoFails || agent.faults.undoFailures > 0) {
          ok = false;
          outcome = 'failed';
          detail = 'undo failed (injected fault)';
          if (agent.faults.undoFailures > 0) agent.faults.undoFailures--;
        } else if (!stages.includes(stage!)) {
          outcome = 'nothing-to-undo';
        } else if (stages.some((s) => s > stage!)) {
          ok = false;
          outcome = 'failed';
          detail = `stage ${stage} of ${change} cannot be undone while a later stage is applied`;
        } else {
          agent.changes[change!] = stages.filter((s) => s !== stage);
          if (agent.changes[change!]!.length === 0) delete agent.changes[change!];
          if (agent.faults.clearOnUndo && Object.keys(agent.changes).length === 0 && !agent.faults.crashed) agent.faults = noFaults();
          outcome = 'undone';
        }
        break;
      }
      case 'verify-marker': {
        need(change, stage);
        if (agent.faults.markerReadFailures > 0) {
          agent.faults.markerReadFailures--;
          this.record(req, 'failed', now, 'the marker could not be read (injected fault)');
          throw new SimulatorError(503, `the marker of stage ${stage} of ${change} could not be read (injected fault)`);
        }
        ok = (agent.changes[change!] ?? []).includes(stage!);
        outcome = ok ? 'ok' : 'failed';
        if (!ok) detail = `no marker for stage ${stage} of ${change}`;
        break;
      }
      case 'integration-check': {
        ok = !this.effectiveFaults(agent).integrationFailing && !agent.faults.crashed;
        outcome = ok ? 'ok' : 'failed';
        if (!ok) detail = agent.faults.crashed ? 'agent is down' : 'integration check failed (injected fault)';
        break;
      }
      default:
        throw new SimulatorError(400, `unknown action "${String(req.action)}"`);
    }
    this.journal?.({ t: 'apply', req, at: now() });
    this.record(req, outcome, now, detail);
    const result: ActionResult = { ok, outcome, ...(detail ? { detail } : {}), agent: this.view(agent) };
    // Failed attempts are not remembered by key, so a retry after a fix can succeed.
    if (keyId && ok) this.resultsByKey.set(keyId, result);
    return result;
  }

  /** Deploys or removes a named component; idempotent by key and by state. */
  setComponent(name: string, machine: string, up: boolean, key: string, now: () => number = Date.now): { outcome: ActionOutcome; up: boolean } {
    this.journal?.({ t: 'component', name, machine, up, key, at: now() });
    const action: ActionKind = up ? 'component-up' : 'component-down';
    const keyId = `${action}:${key}`;
    if (this.componentKeys.has(keyId)) {
      this.record({ action, agent: name, key }, 'duplicate-key', now);
      return { outcome: 'duplicate-key', up: this.components.get(name)?.up ?? false };
    }
    const was = this.components.get(name)?.up ?? false;
    this.components.set(name, { machine, up });
    this.componentKeys.add(keyId);
    const outcome: ActionOutcome = was === up ? (up ? 'already-applied' : 'nothing-to-undo') : up ? 'applied' : 'undone';
    this.record({ action, agent: name, key }, outcome, now);
    return { outcome, up };
  }

  private record(req: ActionRequest, outcome: ActionOutcome, now: () => number, detail?: string): void {
    this.actions.push({
      seq: this.actions.length + 1,
      at: new Date(now()).toISOString(),
      action: req.action,
      agent: req.agent,
      ...(req.change !== undefined ? { change: req.change } : {}),
      ...(req.stage !== undefined ? { stage: req.stage } : {}),
      ...(req.key !== undefined ? { key: req.key } : {}),
      outcome,
      ...(detail ? { detail } : {}),
    });
  }
}

function need(change: string | undefined, stage: number | undefined): void {
  if (!change) throw new SimulatorError(400, 'this action needs "change"');
  if (stage === undefined || !Number.isInteger(stage) || stage < 1 || stage > stagesPerChange) {
    throw new SimulatorError(400, `this action needs "stage" between 1 and ${stagesPerChange}`);
  }
}

export class SimulatorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
