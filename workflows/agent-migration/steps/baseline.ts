import { patched } from '@temporalio/workflow';
import { preflightProblems } from '../../../decisions/preflight';
import { preflightPatch } from '../../lib/patches';
import type { BaselineResult, MarkerReading } from '../../../activities/machine';
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
  for (let first = true; ; first = false) {
    run.setState('baseline');
    const summary = `baseline of ${agent} on ${machine}: ${input.timings.baselineSamples} samples${preflight ? ', with the pre-flight check' : ''}`;
    const request = {
      agent,
      samples: input.timings.baselineSamples,
      intervalMs: Math.min(1000, input.thresholds.sampleIntervalMs),
      responseThresholdMs: input.thresholds.responseTimeMs,
      ...(input.agent.controls?.length ? { controls: input.agent.controls } : {}),
      ...(preflight ? { checkIntegration: true } : {}),
    };
    let b: BaselineResult;
    if (run.compact && first) {
      // The markers first, in the same activity: an agent that already has some of the change is left alone, unmeasured.
      const p = await run.m.prepareMigration(`does ${agent} already have ${input.change}? Then ${summary}`, { ...request, change: input.change, stages: [1, 2, 3] });
      const why = whyLeftAlone(agent, input.change, p.markers);
      if (why || !p.measured) {
        const refused = why ?? `no baseline of ${agent} was taken; nothing applied`;
        run.notify.alert(1, `${agent}: migration refused`, refused);
        return { kind: 'skipped', why: refused };
      }
      b = p.measured;
    } else b = await run.m.measureBaseline(summary, request);
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

/**
 * Why a migration leaves its agent alone before stage 1, from the agent's own markers of the
 * change; null when it has none of it. A marker it cannot read is no licence to apply over it.
 */
export function whyLeftAlone(agent: string, change: string, r: MarkerReading): string | null {
  if (r.present.length) return `${agent} already has stage${r.present.length > 1 ? 's' : ''} ${r.present.join(', ')} of ${change}, applied by another run, which owns it: this run leaves it alone`;
  if (r.unknown.length) return `could not tell whether ${agent} already has ${change} (stage ${r.unknown[0]!.stage}: ${r.unknown[0]!.detail}); nothing applied`;
  return null;
}
