import type { Strategy } from './risk';

/** The three stages of a staged migration (docs/domain.md), in order. */
export const stages = [
  { stage: 1, name: 'infrastructure', scope: 'base class, configuration, health checks' },
  { stage: 2, name: 'core logic', scope: 'GPU operations, threading' },
  { stage: 3, name: 'integration', scope: 'databases, external connections' },
] as const;
export type StageNumber = 1 | 2 | 3;

export interface StrategyTimings {
  rapidVerificationMs: number;
  stageVerificationMs: number;
  observationMs: number;
}

/** One step of an agent's migration; the workflow interprets these in order. */
export type MigrationStep =
  | { kind: 'baseline' }
  | { kind: 'await-approval'; stage: StageNumber }
  | { kind: 'apply-stage'; stage: StageNumber }
  | { kind: 'verify'; stage: StageNumber; durationMs: number }
  | { kind: 'observe'; durationMs: number };

/**
 * What each strategy does, as data: rapid runs the stages back to back and verifies once;
 * staged verifies after each stage; framework adds the long observation; critical also
 * waits for a human before every stage.
 */
export function migrationSteps(strategy: Strategy, t: StrategyTimings): MigrationStep[] {
  const steps: MigrationStep[] = [{ kind: 'baseline' }];
  for (const { stage } of stages) {
    if (strategy === 'critical') steps.push({ kind: 'await-approval', stage });
    steps.push({ kind: 'apply-stage', stage });
    if (strategy !== 'rapid') steps.push({ kind: 'verify', stage, durationMs: t.stageVerificationMs });
  }
  if (strategy === 'rapid') steps.push({ kind: 'verify', stage: 3, durationMs: t.rapidVerificationMs });
  if ((strategy === 'framework' || strategy === 'critical') && t.observationMs > 0) steps.push({ kind: 'observe', durationMs: t.observationMs });
  return steps;
}

export function stageLabel(stage: StageNumber): string {
  const s = stages[stage - 1]!;
  return `stage ${stage} of 3, ${s.name}`;
}
