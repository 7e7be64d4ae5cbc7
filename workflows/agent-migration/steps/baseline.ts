import { patched } from '@temporalio/workflow';
import { preflightProblems } from '../../../decisions/preflight';
import { preflightPatch } from '../../lib/patches';
import type { AgentMigrationStatus } from '../messages';
import type { MigrationRun } from '../run';
import type { StepsEnd } from './index';

/**
 * The agent's performance before stage 1, on its own machine: what degradation is judged
 * against. With it the pre-flight check (decisions/preflight.ts): an agent already failing its
 * integration check, or a machine already over its GPU or load limits, is not migrated until a
 * person decides (check again, skip the agent, or proceed anyway).
 */
export async function baseline(run: MigrationRun): Promise<StepsEnd | null> {
  const { input, agent, machine, status } = run;
  const preflight = run.lean || patched(preflightPatch);
  for (;;) {
    run.setState('baseline');
    const b = await run.m.measureBaseline(`baseline of ${agent} on ${machine}: ${input.timings.baselineSamples} samples${preflight ? ', with the pre-flight check' : ''}`, {
      agent,
      samples: input.timings.baselineSamples,
      intervalMs: Math.min(1000, input.thresholds.sampleIntervalMs),
      responseThresholdMs: input.thresholds.responseTimeMs,
      ...(input.agent.controls?.length ? { controls: input.agent.controls } : {}),
      ...(preflight ? { checkIntegration: true } : {}),
    });
    status.baseline = b.baseline;
    run.notify.emit('baseline.measured', { baseline: { ...b.baseline, ticks: undefined } });
    const problems = preflight && b.preflight ? preflightProblems(b.preflight, input.thresholds) : [];
    if (problems.length === 0) return null;

    const entry: AgentMigrationStatus['preflight'][number] = { problems, at: new Date().toISOString() };
    status.preflight.push(entry);
    run.setState('pre-flight-failed');
    run.notify.alert(2, `${agent}: pre-flight check failed, nothing applied`, `${problems.join('; ')}. Decide with the resolvePreflight update: retry, skip or proceed.`);
    run.pendingPreflight = null;
    const decision = await run.persons.wait({ agent, machine, what: 'pre-flight', detail: problems.join('; ') }, () => run.pendingPreflight);
    entry.resolution = decision;
    run.notify.emit('preflight.resolved', { ...decision, problems });
    if (decision.action === 'skip') return { kind: 'skipped', why: `skipped by ${decision.by} at the pre-flight check (${problems.join('; ')}): ${decision.reason}` };
    if (decision.action === 'proceed') return null;
  }
}
