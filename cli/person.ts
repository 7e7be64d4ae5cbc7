import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { signDecision } from './sign';
import { agentMigrationStatusQuery, approveStageUpdate, resolveFailedUndoUpdate, resolveInconclusiveUpdate, resolvePreflightUpdate } from '../workflows/agent-migration';
import type { PersonWait, PersonWaitKind } from '../workflows/lib/person';
import { phaseStatusQuery } from '../workflows/phase';
import { weekStatusQuery } from '../workflows/week';
import { connect, describeWorkflow, OperatorError } from './temporal-client';

/**
 * The commands a person answers a wait with: a critical-band stage (`stage approve|reject`),
 * an inconclusive verification (`window retry|accept|rollback`), a failed undo or a read-back
 * that disagrees (`undo retry|accept`). Each takes the id of the workflow that waits, or of its
 * week or phase when exactly one such wait is listed there.
 */

export interface PersonOptions {
  config: PhasegateConfig;
  by?: string;
  reason?: string;
  stage?: number;
  /** The private key that signs a stage decision (cli/sign.ts). */
  keyFile?: string;
}

const who = (o: PersonOptions) => o.by ?? os.userInfo().username;

/** The waits a workflow lists (its own and its children's). */
async function waitsOf(client: Client, id: string): Promise<{ type: string; waits: PersonWait[] }> {
  const handle = client.workflow.getHandle(id);
  const { type } = await describeWorkflow(handle);
  if (type === 'phaseWorkflow') return { type, waits: (await handle.query(phaseStatusQuery)).waitingForPerson ?? [] };
  if (type === 'weekWorkflow') return { type, waits: (await handle.query(weekStatusQuery)).waitingForPerson ?? [] };
  if (type === 'agentMigrationWorkflow') return { type, waits: (await handle.query(agentMigrationStatusQuery)).waitingForPerson ?? [] };
  throw new OperatorError(`"${id}" is a ${type}; nothing there waits for a person`);
}

/** The one wait of these kinds under `id`, or an error that lists what does wait. */
async function findWait(client: Client, id: string, kinds: PersonWaitKind[]): Promise<PersonWait> {
  const { waits } = await waitsOf(client, id);
  const matching = waits.filter((w) => kinds.includes(w.what));
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0) {
    throw new OperatorError(
      `nothing under ${id} waits for ${kinds.join(' or ')}${waits.length ? `; what does wait: ${waits.map((w) => `${w.what} on ${w.workflowId}`).join('; ')}` : ' (nothing waits for a person there)'}`,
    );
  }
  throw new OperatorError(`${matching.length} waits under ${id}; name one:\n${matching.map((w) => `  ${w.workflowId}: ${w.what}, ${w.detail}`).join('\n')}`);
}

const cause = (err: unknown) => (err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message);

export async function answerUndo(action: 'retry' | 'accept', id: string, o: PersonOptions): Promise<string> {
  if (!o.reason) throw new OperatorError('give --reason: a failed undo is an incident, and its resolution is recorded with why');
  const { client, close } = await connect(o.config);
  try {
    const wait = await findWait(client, id, ['failed-undo', 'read-back']);
    const resolution = { action: action === 'retry' ? ('retry-undo' as const) : ('accept' as const), by: who(o), reason: o.reason };
    await client.workflow
      .getHandle(wait.workflowId)
      .executeUpdate(resolveFailedUndoUpdate, { args: [resolution] })
      .catch((err: unknown) => {
        throw new OperatorError(`${wait.workflowId} refused: ${cause(err)}`);
      });
    return action === 'retry'
      ? `undo of ${wait.agent ?? wait.machine ?? wait.workflowId} tried again (${wait.workflowId})`
      : `${wait.agent ?? wait.machine ?? wait.workflowId} accepted as it is by ${resolution.by}: recorded as accepted-as-is, still counted as applied (${wait.workflowId})`;
  } finally {
    await close();
  }
}

export async function answerStage(decision: 'approve' | 'reject', id: string, o: PersonOptions): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    const wait = await findWait(client, id, ['stage-approval']);
    const handle = client.workflow.getHandle(wait.workflowId);
    const waiting = (await handle.query(agentMigrationStatusQuery)).awaitingApprovalFor;
    const stage = o.stage ?? waiting;
    if (stage === null || stage === undefined) throw new OperatorError(`${wait.workflowId} has no stage waiting for approval`);
    const signature = o.keyFile ? signDecision(o.keyFile, { workflowId: wait.workflowId, subject: `stage ${stage}`, decision, by: who(o), ...(o.reason ? { reason: o.reason } : {}) }) : undefined;
    await handle.executeUpdate(approveStageUpdate, { args: [{ stage: stage as 1 | 2 | 3, decision, by: who(o), ...(o.reason ? { reason: o.reason } : {}), ...(signature ? { signature } : {}) }] }).catch((err: unknown) => {
      throw new OperatorError(`${wait.workflowId} refused: ${cause(err)}`);
    });
    return `stage ${stage} of ${wait.agent ?? wait.workflowId}: ${decision} by ${who(o)}${o.keyFile ? ' (signed)' : ''}`;
  } finally {
    await close();
  }
}

export async function answerWindow(action: 'retry' | 'accept' | 'rollback', id: string, o: PersonOptions): Promise<string> {
  if (!o.reason) throw new OperatorError('give --reason: the resolution of an inconclusive verification is recorded with why');
  const { client, close } = await connect(o.config);
  try {
    const wait = await findWait(client, id, ['inconclusive']);
    const resolution = { action: action === 'retry' ? ('retry-window' as const) : action, by: who(o), reason: o.reason };
    await client.workflow
      .getHandle(wait.workflowId)
      .executeUpdate(resolveInconclusiveUpdate, { args: [resolution] })
      .catch((err: unknown) => {
        throw new OperatorError(`${wait.workflowId} refused: ${cause(err)}`);
      });
    return `inconclusive verification of ${wait.agent ?? wait.workflowId}: ${resolution.action} by ${resolution.by}`;
  } finally {
    await close();
  }
}

/** After a failed pre-flight check: check again, leave the agent alone, or migrate it anyway. */
export async function answerPreflight(action: 'retry' | 'skip' | 'proceed', id: string, o: PersonOptions): Promise<string> {
  if (!o.reason) throw new OperatorError('give --reason: the resolution of a failed pre-flight check is recorded with why');
  const { client, close } = await connect(o.config);
  try {
    const wait = await findWait(client, id, ['pre-flight']);
    const resolution = { action, by: who(o), reason: o.reason };
    await client.workflow
      .getHandle(wait.workflowId)
      .executeUpdate(resolvePreflightUpdate, { args: [resolution] })
      .catch((err: unknown) => {
        throw new OperatorError(`${wait.workflowId} refused: ${cause(err)}`);
      });
    return `failed pre-flight check of ${wait.agent ?? wait.workflowId}: ${action} by ${resolution.by}`;
  } finally {
    await close();
  }
}
