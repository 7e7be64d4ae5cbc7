import { stageLabel, type MigrationStep } from '../../../decisions/migration-steps';
import type { MigrationRun } from '../run';
import type { StepsEnd } from './index';

/**
 * One stage: its undo registered first (a stage that timed out after taking effect is still
 * undone), a backup, the apply, and the agent's own marker checked (one activity in a lean run).
 */
export async function applyStage(run: MigrationRun, step: Extract<MigrationStep, { kind: 'apply-stage' }>): Promise<StepsEnd | null> {
  const { status, agent, machine, input } = run;
  await run.waitWhilePaused();
  status.currentStage = step.stage;
  run.setState('applying');
  const where = `${stageLabel(step.stage)}, on ${machine}, ${agent}`;
  run.compensations.push(step.stage);
  run.notify.emit('stage.started', { stage: step.stage });
  const backup = { action: 'backup', agent, change: input.change, stage: step.stage, idempotencyKey: run.key(step.stage, 'backup') } as const;
  const apply = { action: 'apply-stage', agent, change: input.change, stage: step.stage, idempotencyKey: run.key(step.stage, 'apply') } as const;
  const marker = { action: 'verify-marker', agent, change: input.change, stage: step.stage } as const;
  if (run.lean) await run.m.runActions(`${where}: backup, apply, check marker`, [backup, apply, marker]);
  else {
    await run.m.runAction(`backup before ${where}`, backup);
    await run.m.runAction(where, apply);
    await run.m.runAction(`check marker of ${where}`, marker);
  }
  status.stagesApplied.push(step.stage);
  run.notify.emit('stage.applied', { stage: step.stage });
  return null;
}
