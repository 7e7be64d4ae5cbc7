import type { MigrationStep } from '../../../decisions/migration-steps';
import type { TriggerEvidence } from '../../../decisions/triggers';
import type { MigrationRun } from '../run';
import { approval } from './approval';
import { applyStage } from './apply-stage';
import { baseline } from './baseline';
import { observe, verifyStage } from './verify';

/** How the steps ended, before any rollback. */
export type StepsEnd =
  | { kind: 'migrated' }
  | { kind: 'trigger'; trigger: TriggerEvidence }
  | { kind: 'rejected'; by: string }
  | { kind: 'operator-rollback'; by: string }
  | { kind: 'aborted'; why: string }
  /** A progress deadline passed and the plan says roll back (deadlines.ts). */
  | { kind: 'deadline'; why: string }
  /** Left alone before stage 1 (a person skipped it at the pre-flight check): nothing applied. */
  | { kind: 'skipped'; why: string }
  | { kind: 'failed'; message: string };

/** One function per kind of migration step (decisions/migration-steps.ts says which steps a strategy takes). */
const stepKinds: { [K in MigrationStep['kind']]: (run: MigrationRun, step: Extract<MigrationStep, { kind: K }>) => Promise<StepsEnd | null> } = {
  baseline,
  'await-approval': approval,
  'apply-stage': applyStage,
  verify: verifyStage,
  observe,
};

export function runStep(run: MigrationRun, step: MigrationStep): Promise<StepsEnd | null> {
  return (stepKinds[step.kind] as (run: MigrationRun, step: MigrationStep) => Promise<StepsEnd | null>)(run, step);
}
