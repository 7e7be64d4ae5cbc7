import {
  CancellationScope,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
  ChildWorkflowCancellationType,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { agentLeaseWorkflowId } from './lib/ids';
import { leaseFreedWhileClosingPatch } from './lib/patches';
import { searchAttributes } from './lib/visibility';

/**
 * One migration of an agent at a time, across every phase: a migration holds its agent's
 * lease, a workflow with the fixed id `lease.<agent>` started as its child. Temporal allows one
 * running workflow per id, so a second migration's start of the lease fails at once; it then
 * asks the lease to tell it who holds it and when it is free, and waits (or is refused, as its
 * plan says). The lease ends when its holder closes: the parent-close policy (REQUEST_CANCEL)
 * cancels it, and it takes that as its release. A migration with the brief history relies on
 * that alone (agent-migration/workflow.ts); one without it, from before, sends releaseLease
 * first and waits for the lease to close (releaseAgentLease).
 */

export interface AgentLeaseInput {
  agent: string;
  /** Workflow id of the migration that holds the lease. */
  holder: string;
  change: string;
}

export interface LeaseHolder {
  agent: string;
  holder: string;
  change: string;
  since: string;
}

/** From the holder: done with the agent. */
export const releaseLeaseSignal = defineSignal('releaseLease');
/** From a migration that found the lease taken: tell me who holds it, and when it is free. */
export const waitForLeaseSignal = defineSignal<[{ waiter: string }]>('waitForLease');
/** To a waiter: who holds the lease. */
export const leaseHeldSignal = defineSignal<[LeaseHolder]>('leaseHeld');
/** To a waiter: the lease is free; try to take it. */
export const leaseFreedSignal = defineSignal<[{ agent: string }]>('leaseFreed');
/** Who holds the lease, since when, and who waits. */
export const leaseStatusQuery = defineQuery<LeaseHolder & { waiters: string[] }>('status');

/** Holds an agent's lease until the holder releases it (or closes). */
export async function agentLeaseWorkflow(input: AgentLeaseInput): Promise<LeaseHolder & { releasedAt: string; waiters: string[] }> {
  const held: LeaseHolder = { agent: input.agent, holder: input.holder, change: input.change, since: new Date().toISOString() };
  const waiters: string[] = [];
  let released = false;
  /** Released (or its holder closed): the waiters are being told the agent is free. */
  let closing = false;
  setHandler(leaseStatusQuery, () => ({ ...held, waiters }));
  setHandler(releaseLeaseSignal, () => void (released = true));
  setHandler(waitForLeaseSignal, async (arg) => {
    const waiter = typeof arg?.waiter === 'string' ? arg.waiter : null;
    if (!waiter) return;
    if (closing && patched(leaseFreedWhileClosingPatch)) {
      // Too late for the notice the other waiters get: told "held", it would wait for a "freed"
      // that never comes. Told "freed", it tries to take the lease again, and does once this
      // run has closed (takeAgentLease).
      await getExternalWorkflowHandle(waiter).signal(leaseFreedSignal, { agent: input.agent }).catch(() => undefined);
      return;
    }
    if (!waiters.includes(waiter)) waiters.push(waiter);
    await getExternalWorkflowHandle(waiter).signal(leaseHeldSignal, held).catch(() => undefined);
  });
  upsertSearchAttributes([
    { key: searchAttributes.agent, value: input.agent },
    { key: searchAttributes.status, value: 'held' },
  ]);
  upsertMemo({ summary: `lease of ${input.agent}, held by ${input.holder} (${input.change})` });
  try {
    await condition(() => released);
  } catch (err) {
    // The holder closed (parent-close policy): the lease is free all the same.
    if (!isCancellation(err)) throw err;
  }
  closing = true;
  return CancellationScope.nonCancellable(async () => {
    await condition(allHandlersFinished);
    await Promise.all(waiters.map((w) => getExternalWorkflowHandle(w).signal(leaseFreedSignal, { agent: input.agent }).catch(() => undefined)));
    // A waiter that asked meanwhile is answered before the run closes.
    await condition(allHandlersFinished);
    upsertSearchAttributes([{ key: searchAttributes.status, value: 'released' }]);
    return { ...held, releasedAt: new Date().toISOString(), waiters };
  });
}

/** What a migration learns while it tries to take its agent's lease. */
export interface LeaseWaitState {
  heldBy: LeaseHolder | null;
  freed: boolean;
}

/**
 * Takes the agent's lease for the calling migration. When another migration holds it:
 * 'refuse' returns that holder at once; 'wait' waits until it is free (onWaiting is told who
 * holds it) and takes it then. The caller's handlers for leaseHeldSignal / leaseFreedSignal
 * update `seen`. Cancellable while waiting.
 */
export async function takeAgentLease(
  input: AgentLeaseInput,
  mode: 'wait' | 'refuse',
  seen: LeaseWaitState,
  onWaiting: (holder: LeaseHolder | null) => void,
): Promise<{ lease: ChildWorkflowHandle<typeof agentLeaseWorkflow> } | { refused: LeaseHolder | null }> {
  const id = agentLeaseWorkflowId(input.agent);
  for (;;) {
    try {
      // The start itself is not cancellable: an abort that cancels a child's start after it was
      // sent but before it was confirmed left the start unresolved for ever, and the migration
      // with it (seen in test/integration/runs-and-leases.test.ts). Started, the lease is
      // returned, and the caller's cancelled scope ends the migration, which releases it.
      const lease = await CancellationScope.nonCancellable(() =>
        startChild(agentLeaseWorkflow, {
          workflowId: id,
          args: [input],
          // A holder closed for good (terminated) cancels its lease, which then frees the agent.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          cancellationType: ChildWorkflowCancellationType.ABANDON,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          staticSummary: `lease of ${input.agent} for this migration`,
        }),
      );
      return { lease };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    // Held by another migration, and this one was aborted meanwhile: stop trying. (A signal
    // sent from a cancelled scope fails at once, which would otherwise read as "freed" below
    // and loop for as long as the other holds the agent.)
    const scope = CancellationScope.current();
    if (scope.consideredCancelled) await scope.cancelRequested;
    seen.heldBy = null;
    seen.freed = false;
    const asked = await getExternalWorkflowHandle(id)
      .signal(waitForLeaseSignal, { waiter: workflowInfo().workflowId })
      .then(
        () => true,
        () => false,
      );
    if (!asked) continue; // freed between the two calls: try again at once
    await condition(() => seen.heldBy !== null || seen.freed, '1 minute');
    if (seen.freed) continue;
    if (mode === 'refuse') return { refused: seen.heldBy };
    onWaiting(seen.heldBy);
    // Told when it is free; the timeout only guards against a notice lost to a crash.
    await condition(() => seen.freed, '10 minutes');
  }
}

/** Gives the lease back and waits for it to close, so the next migration can take it at once. */
export async function releaseAgentLease(lease: ChildWorkflowHandle<typeof agentLeaseWorkflow>): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    const sent = await lease.signal(releaseLeaseSignal).then(
      () => true,
      () => false,
    );
    if (sent) await lease.result().catch(() => undefined);
  });
}
