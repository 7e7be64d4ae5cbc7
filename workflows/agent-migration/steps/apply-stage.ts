import { stageLabel, type MigrationStep } from '../../../decisions/migration-steps';
import type { MigrationRun } from '../run';
import type { StepsEnd } from './index';

/**
 * One stage: its undo registered first (a stage that timed out after taking effect is still
 * undone), a backup, the apply, and the agent's own marker checked.
 */
export async function applyStage(run: MigrationRun, step: Extract<MigrationStep, { kind: 'apply-stage' }>): Promise<StepsEnd | null> {
  const { status, agent, machine, input } = run;
  await run.waitWhilePaused();
  run.setState('applying');
  status.currentStage = step.stage;
  const where = `${stageLabel(step.stage)}, on ${machine}, ${agent}`;
  run.compensations.push(step.stage);
  run.notify.emit('stage.started', { stage: step.stage });
  await run.m.runAction(`backup before ${where}`, { action: 'backup', agent, change: input.change, stage: step.stage, idempotencyKey: run.key(step.stage, 'backup') });
  await run.m.runAction(where, { action: 'apply-stage', agent, change: input.change, stage: step.stage, idempotencyKey: run.key(step.stage, 'apply') });
  await run.m.runAction(`check marker of ${where}`, { action: 'verify-marker', agent, change: input.change, stage: step.stage });
  status.stagesApplied.push(step.stage);
  run.notify.emit('stage.applied', { stage: step.stage });
  return null;
}
