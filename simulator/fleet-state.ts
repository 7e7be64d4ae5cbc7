import type { Agent, Hub } from '../config/schema/inventory';

/** Faults an operator or a test can inject into one simulated agent. */
export interface AgentFaults {
  /** Added to every health response. */
  latencyMs: number;
  /** Health endpoint answers with this HTTP status instead of 200. */
  errorStatus?: number;
  /** Process gone: the health port refuses connections, no heartbeats. */
  crashed: boolean;
  /** Process stuck: the health endpoint accepts and never answers, no heartbeats. */
  hung: boolean;
  /** The agent's integration check (databases, external connections) fails. */
  integrationFailing: boolean;
  /** Each apply-stage takes this long before it takes effect (for crash-in-the-middle drills). */
  applyDelayMs: number;
  /** undo-stage fails (a broken undo must stop for a human). */
  undoFails: boolean;
  /**
   * The fault was caused by the change: it goes away once every stage is undone, as a real
   * regression would. Lets drills check that the agent is healthy after a rollback.
   */
  clearOnUndo: boolean;
}

export const noFaults = (): AgentFaults => ({
  latencyMs: 0,
  crashed: false,
  hung: false,
  integrationFailing: false,
  applyDelayMs: 0,
  undoFails: false,
  clearOnUndo: false,
});

export interface SimAgent {
  name: string;
  machine: string;
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
export type ActionOutcome = 'applied' | 'undone' | 'already-applied' | 'nothing-to-undo' | 'duplicate-key' | 'backed-up' | 'ok' | 'failed';

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
  faults: AgentFaults;
}

export const stagesPerChange = 3;

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

  constructor(agents: Agent[], hubs: Hub[], now: () => number = Date.now) {
    for (const a of agents) {
      this.agents.set(a.name, {
        name: a.name,
        machine: a.machine,
        baseVersion: a.version,
        hub: a.hub,
        failoverHub: a.failoverHub,
        changes: {},
        backups: [],
        faults: noFaults(),
        startedAt: now(),
      });
    }
    for (const h of hubs) this.hubsUp.set(h.name, true);
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
      faults: { ...agent.faults },
    };
  }

  setFaults(name: string, faults: Partial<AgentFaults>): AgentView {
    const agent = this.get(name);
    agent.faults = { ...agent.faults, ...faults };
    return this.view(agent);
  }

  clearFaults(): void {
    for (const agent of this.agents.values()) agent.faults = noFaults();
    for (const hub of this.hubsUp.keys()) this.hubsUp.set(hub, true);
    this.machineLoad.clear();
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
        if (agent.faults.undoFails) {
          ok = false;
          outcome = 'failed';
          detail = 'undo failed (injected fault)';
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
        ok = (agent.changes[change!] ?? []).includes(stage!);
        outcome = ok ? 'ok' : 'failed';
        if (!ok) detail = `no marker for stage ${stage} of ${change}`;
        break;
      }
      case 'integration-check': {
        ok = !agent.faults.integrationFailing && !agent.faults.crashed;
        outcome = ok ? 'ok' : 'failed';
        if (!ok) detail = agent.faults.crashed ? 'agent is down' : 'integration check failed (injected fault)';
        break;
      }
      default:
        throw new SimulatorError(400, `unknown action "${String(req.action)}"`);
    }
    this.record(req, outcome, now, detail);
    const result: ActionResult = { ok, outcome, ...(detail ? { detail } : {}), agent: this.view(agent) };
    // Failed attempts are not remembered by key, so a retry after a fix can succeed.
    if (keyId && ok) this.resultsByKey.set(keyId, result);
    return result;
  }

  /** Deploys or removes a named component; idempotent by key and by state. */
  setComponent(name: string, machine: string, up: boolean, key: string, now: () => number = Date.now): { outcome: ActionOutcome; up: boolean } {
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
