import { stageLabel, type MigrationStep } from '../../../decisions/migration-steps';
import type { MigrationRun } from '../run';
import type { StepsEnd } from './index';

/** A critical-band stage waits for a person (approveStage); it never proceeds on its own. */
export async function approval(run: MigrationRun, step: Extract<MigrationStep, { kind: 'await-approval' }>): Promise<StepsEnd | null> {
  const { status, agent, machine } = run;
  run.setState('awaiting-approval');
  status.awaitingApprovalFor = step.stage;
  run.notify.alert(1, `${agent}: ${stageLabel(step.stage)} waits for approval`, `critical-band migration (score ${status.assessment.score}); approve or reject with the approveStage update`);
  let last;
  try {
    last = await run.persons.wait({ agent, machine, what: 'stage-approval', detail: `${stageLabel(step.stage)} of ${run.input.change}`, stage: step.stage }, () =>
      status.awaitingApprovalFor === null ? status.approvals[status.approvals.length - 1]! : null,
    );
  } finally {
    // An abort ends the wait too: no stage waits any longer, and a late approval is refused.
    status.awaitingApprovalFor = null;
  }
  run.notify.emit('stage.decided', { stage: step.stage, decision: last.decision, by: last.by, reason: last.reason });
  return last.decision === 'reject' ? { kind: 'rejected', by: last.by } : null;
}
