import { ApplicationFailure } from '@temporalio/common';
import type { ActionName, Catalogue, CatalogueCommand } from '../../config/schema/catalogue';
import type { Agent } from '../../config/schema/inventory';
import { runInGroup, type CommandEnd } from './process-group';

/** What a workflow may ask a machine to do: names and numbers only, never a command. */
export interface ActionRequest {
  action: ActionName;
  agent: string;
  change?: string;
  stage?: number;
  idempotencyKey?: string;
}

export interface CommandResult {
  command: string;
  args: string[];
  exitCode: number | null;
  signal: string | null;
  /** Ran to its own end, or killed with its whole process group on timeout or cancellation. */
  ended: CommandEnd;
  timedOut: boolean;
  /** Nothing the command started is still running (checked before this result was made). */
  groupGone: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
}

/** Values of this machine's own configuration that catalogue arguments may refer to. */
export interface MachineValues {
  node: string;
  projectRoot: string;
  machine: string;
  simulatorAdmin: string;
}

const maxOutputChars = 4000;
const identifierPattern = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const keyPattern = /^[A-Za-z0-9_.:@-]{1,200}$/;

export function trimOutput(text: string): string {
  const t = text.trim();
  return t.length > maxOutputChars ? `…${t.slice(-maxOutputChars)}` : t;
}

/**
 * Turns an action request into the command this machine's catalogue names for it, and runs
 * it without a shell, with an argument array and a timeout, in a process group of its own
 * (process-group.ts: a timeout or a cancellation kills the whole group, a wrapper script's
 * children included, and the run waits until the group is gone). Request values are checked
 * against the inventory and narrow patterns before they reach an argument.
 */
export class CatalogueRunner {
  private readonly agents: Map<string, Agent>;

  constructor(
    private readonly catalogue: Catalogue,
    agents: Agent[],
    private readonly values: MachineValues,
  ) {
    this.agents = new Map(agents.filter((a) => a.machine === catalogue.machine).map((a) => [a.name, a]));
  }

  agent(name: string): Agent {
    const agent = this.agents.get(name);
    if (!agent) {
      throw ApplicationFailure.nonRetryable(`agent "${String(name).slice(0, 80)}" is not in the inventory of machine ${this.catalogue.machine}`, 'InvalidRequest');
    }
    return agent;
  }

  /** The exact command and arguments an action would run; throws on a bad request. */
  resolve(req: ActionRequest): { command: string; args: string[]; timeoutMs: number } {
    const spec: CatalogueCommand | undefined = (this.catalogue.actions as Record<string, CatalogueCommand>)[req.action];
    if (!spec) throw ApplicationFailure.nonRetryable(`action "${String(req.action).slice(0, 80)}" is not in the catalogue of ${this.catalogue.machine}`, 'InvalidRequest');
    const agent = this.agent(req.agent);
    if (req.change !== undefined && !identifierPattern.test(req.change)) throw ApplicationFailure.nonRetryable('change id has characters outside [A-Za-z0-9_.-]', 'InvalidRequest');
    if (req.stage !== undefined && !(Number.isInteger(req.stage) && req.stage >= 1 && req.stage <= 3)) throw ApplicationFailure.nonRetryable('stage must be 1, 2 or 3', 'InvalidRequest');
    if (req.idempotencyKey !== undefined && !keyPattern.test(req.idempotencyKey)) throw ApplicationFailure.nonRetryable('idempotency key has characters outside [A-Za-z0-9_.:@-]', 'InvalidRequest');
    const lookup: Record<string, string | undefined> = {
      ...this.machineLookup(),
      agent: agent.name,
      change: req.change,
      stage: req.stage?.toString(),
      idempotencyKey: req.idempotencyKey,
    };
    const fill = (text: string) =>
      text.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => {
        const v = lookup[name];
        if (v === undefined) throw ApplicationFailure.nonRetryable(`action "${req.action}" needs "${name}", which the request did not give`, 'InvalidRequest');
        return v;
      });
    return { command: fill(spec.command), args: spec.args.map(fill), timeoutMs: spec.timeoutMs };
  }

  /** The command of a named operation (or its undo); only the key comes from the request. */
  resolveOperation(name: string, direction: 'run' | 'undo', idempotencyKey: string): { command: string; args: string[]; timeoutMs: number } {
    const op = Object.prototype.hasOwnProperty.call(this.catalogue.operations, name) ? this.catalogue.operations[name] : undefined;
    if (!op) throw ApplicationFailure.nonRetryable(`operation "${String(name).slice(0, 80)}" is not in the catalogue of ${this.catalogue.machine}`, 'InvalidRequest');
    if (!keyPattern.test(idempotencyKey)) throw ApplicationFailure.nonRetryable('idempotency key has characters outside [A-Za-z0-9_.:@-]', 'InvalidRequest');
    const spec = op[direction];
    const lookup: Record<string, string> = { ...this.machineLookup(), idempotencyKey };
    const fill = (text: string) =>
      text.replace(/\{([A-Za-z]+)\}/g, (_m, key: string) => {
        const v = lookup[key];
        if (v === undefined) throw ApplicationFailure.nonRetryable(`operation "${name}" uses {${key}}, which operations may not use`, 'InvalidRequest');
        return v;
      });
    return { command: fill(spec.command), args: spec.args.map(fill), timeoutMs: spec.timeoutMs };
  }

  runOperation(name: string, direction: 'run' | 'undo', idempotencyKey: string, signal?: AbortSignal): Promise<CommandResult> {
    const { command, args, timeoutMs } = this.resolveOperation(name, direction, idempotencyKey);
    return runCommand(command, args, timeoutMs, this.values.projectRoot, signal);
  }

  private machineLookup(): Record<string, string> {
    return { node: this.values.node, projectRoot: this.values.projectRoot, machine: this.values.machine, simulatorAdmin: this.values.simulatorAdmin };
  }

  run(req: ActionRequest, signal?: AbortSignal): Promise<CommandResult> {
    const { command, args, timeoutMs } = this.resolve(req);
    return runCommand(command, args, timeoutMs, this.values.projectRoot, signal);
  }
}

/**
 * Runs a command without a shell, in its own process group, with a timeout and bounded
 * output (process-group.ts); never rejects: the result says how it ended. It resolves only
 * once nothing the command started is left running.
 */
export async function runCommand(command: string, args: string[], timeoutMs: number, cwd: string, signal?: AbortSignal): Promise<CommandResult> {
  const r = await runInGroup(command, args, { timeoutMs, cwd, ...(signal ? { signal } : {}) });
  return {
    command,
    args,
    exitCode: r.ended === 'exited' && !r.spawnError ? r.exitCode : null,
    signal: r.signal,
    ended: r.ended,
    timedOut: r.ended === 'timed-out',
    groupGone: r.groupGone,
    durationMs: r.durationMs,
    stdout: trimOutput(r.stdout),
    stderr: trimOutput(r.stderr),
  };
}
