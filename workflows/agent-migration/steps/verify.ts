import { sleep } from '@temporalio/workflow';
import { stageLabel, type MigrationStep } from '../../../decisions/migration-steps';
import type { TriggerEvidence } from '../../../decisions/triggers';
import type { AgentMigrationStatus } from '../messages';
import type { MigrationRun } from '../run';
import type { StepsEnd } from './index';

/**
 * Runs one verification window on the agent's machine; returns the trigger if one fired. A
 * window that could not measure is not a failed one: it waits for a person (retry, accept, or
 * roll back) instead of rolling back on no data.
 */
async function window(run: MigrationRun, durationMs: number, summary: string): Promise<TriggerEvidence | 'operator-rollback' | null> {
  const { status, agent, machine, input } = run;
  for (;;) {
    const w = await run.m.verifyWindow(summary, {
      agent,
      durationMs,
      sampleIntervalMs: input.thresholds.sampleIntervalMs,
      thresholds: input.thresholds,
      baseline: status.baseline,
      checkIntegration: true,
    });
    const { lastReadings, ...rest } = w;
    status.lastReadings = lastReadings;
    status.lastWindow = rest;
    if (w.escalations.length) run.notify.alert(1, `${agent}: metric far from baseline`, w.escalations[0]!.detail, { escalations: w.escalations });
    if (w.verdict === 'fail') return w.trigger!;
    if (w.verdict === 'pass') return null;
    const previous = status.state;
    const entry: AgentMigrationStatus['inconclusive'][number] = { reason: w.reason ?? 'probe errors', probeErrors: w.probeErrors, at: new Date().toISOString() };
    status.inconclusive.push(entry);
    run.setState('inconclusive');
    run.notify.alert(2, `${agent}: verification inconclusive`, `${entry.reason}. Decide with the resolveInconclusive update: retry-window, accept or rollback.`);
    run.pendingInconclusive = null;
    const decision = await run.persons.wait({ agent, machine, what: 'inconclusive', detail: entry.reason }, () => run.pendingInconclusive);
    entry.resolution = decision;
    run.notify.emit('verification.resolved', { ...decision });
    if (decision.action === 'rollback') return 'operator-rollback';
    run.setState(previous);
    if (decision.action === 'accept') return null;
  }
}

const ended = (run: MigrationRun, r: TriggerEvidence | 'operator-rollback' | null): StepsEnd | null =>
  r === 'operator-rollback' ? { kind: 'operator-rollback', by: run.status.inconclusive.at(-1)?.resolution?.by ?? 'operator' } : r ? { kind: 'trigger', trigger: r } : null;

/** The verification after a stage (after the last one, for a rapid migration). */
export async function verifyStage(run: MigrationRun, step: Extract<MigrationStep, { kind: 'verify' }>): Promise<StepsEnd | null> {
  run.setState('verifying');
  return ended(run, await window(run, step.durationMs, `verify ${stageLabel(step.stage)} of ${run.agent} on ${run.machine} for ${Math.round(step.durationMs / 1000)} s`));
}

/**
 * The long observation of a framework migration (24 h by default), as back-to-back windows
 * (one history event each, not one per sample) with rests between them.
 */
export async function observe(run: MigrationRun, step: Extract<MigrationStep, { kind: 'observe' }>): Promise<StepsEnd | null> {
  const { status, agent, machine, input } = run;
  run.setState('observing');
  run.notify.emit('observation.started', { durationMs: step.durationMs });
  const windowMs = Math.max(1000, input.timings.observationWindowMs);
  while (status.observedMs < step.durationMs) {
    const slice = Math.min(windowMs, step.durationMs - status.observedMs);
    const started = Date.now();
    const hours = (status.observedMs / 3_600_000).toFixed(1);
    const r = await window(run, slice, `observe ${agent} on ${machine}: hour ${hours} of ${(step.durationMs / 3_600_000).toFixed(1)}`);
    status.observedMs += Date.now() - started;
    if (r) return ended(run, r);
    const gap = Math.min(input.timings.observationGapMs, step.durationMs - status.observedMs);
    if (gap > 0) {
      await sleep(gap, { summary: `observation of ${agent}: rest before the next window` });
      status.observedMs += gap;
    }
  }
  run.notify.emit('observation.passed', { observedMs: status.observedMs });
  return null;
}
