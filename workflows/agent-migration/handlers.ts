import { CancellationScope, setDefaultSignalHandler, setHandler, workflowInfo } from '@temporalio/workflow';
import { leaseFreedSignal, leaseHeldSignal } from '../agent-lease';
import { signatures } from '../lib/lazy-modules';
import { abortSignal, lineHoldSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, unknownSignalRefuser } from '../lib/steering';
import { agentMigrationStatusQuery, approveStageUpdate, type DecisionCheck, checkUndoResolution, checkWho, resolveFailedUndoUpdate, resolveInconclusiveUpdate, resolvePreflightUpdate } from './messages';
import type { MigrationRun } from './run';

/**
 * The migration's query, signals and updates. Updates are validated before anything is
 * written to the history; a malformed or unknown signal is refused and recorded, never acted on.
 */
export function registerHandlers(run: MigrationRun): void {
  const { status, notify, agent } = run;
  setHandler(agentMigrationStatusQuery, () => status);

  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setHandler(pauseSignal, (arg) => void (refused('pause', arg) || (run.paused = true)));
  setHandler(resumeSignal, (arg) => void (refused('resume', arg) || (run.paused = false)));
  setHandler(abortSignal, (arg) => void (refused('abort', arg) || run.abort(arg)));
  setHandler(lineHoldSignal, (arg) => void (refused('lineHold', arg) || (status.line = arg.hold)));
  setDefaultSignalHandler(unknownSignalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry })));
  setHandler(leaseHeldSignal, (h) => void (run.lease.heldBy = h));
  setHandler(leaseFreedSignal, () => void (run.lease.freed = true));
  // Cancelling this workflow (the Temporal CLI or UI, or its week closing for good) is an
  // abort: the steps stop and the stages are undone, never left half-applied.
  CancellationScope.current().cancelRequested.catch(() => run.abort({ level: 1, by: 'temporal', reason: 'workflow cancellation requested' }));

  setHandler(
    approveStageUpdate,
    (d) => {
      const rule = run.input.approvals;
      const verified: DecisionCheck | undefined = rule ? (d.signature ? 'signature' : 'name only (unsigned, as the plan allows)') : undefined;
      status.approvals.push({ ...d, at: new Date().toISOString(), ...(verified ? { verified } : {}) });
      status.awaitingApprovalFor = null;
      return status;
    },
    {
      validator: (d) => {
        requireObject(d, 'a stage decision');
        if (status.awaitingApprovalFor === null) throw new Error(`no stage of ${agent} is waiting for approval (state: ${status.state})`);
        if (d.stage !== status.awaitingApprovalFor) throw new Error(`stage ${d.stage} is not the one waiting; stage ${status.awaitingApprovalFor} is`);
        if (d.decision !== 'approve' && d.decision !== 'reject') throw new Error('decision must be "approve" or "reject"');
        checkWho(d.by, d.reason);
        const problem = signatures().decisionProblem(run.input.approvals, { workflowId: workflowInfo().workflowId, subject: `stage ${d.stage}`, decision: d.decision, by: d.by, ...(d.reason !== undefined ? { reason: d.reason } : {}) }, d.signature, Date.now());
        if (problem) throw new Error(`stage ${d.stage} of ${agent}: ${problem}`);
      },
    },
  );
  setHandler(
    resolveFailedUndoUpdate,
    (r) => {
      run.pendingUndo = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (status.state !== 'needs-human') throw new Error(`${agent} does not need a human now (state: ${status.state})`);
        checkUndoResolution(r);
      },
    },
  );
  setHandler(
    resolveInconclusiveUpdate,
    (r) => {
      run.pendingInconclusive = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (status.state !== 'inconclusive') throw new Error(`no inconclusive verification of ${agent} waits (state: ${status.state})`);
        if (!['retry-window', 'accept', 'rollback'].includes(r.action)) throw new Error('action must be "retry-window", "accept" or "rollback"');
        checkWho(r.by, r.reason, true);
      },
    },
  );
  setHandler(
    resolvePreflightUpdate,
    (r) => {
      run.pendingPreflight = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (status.state !== 'pre-flight-failed') throw new Error(`no failed pre-flight check of ${agent} waits (state: ${status.state})`);
        if (!['retry', 'skip', 'proceed'].includes(r.action)) throw new Error('action must be "retry", "skip" or "proceed"');
        checkWho(r.by, r.reason, true);
      },
    },
  );
}
