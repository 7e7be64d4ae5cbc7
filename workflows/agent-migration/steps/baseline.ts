import type { MigrationRun } from '../run';
import type { StepsEnd } from './index';

/** The agent's performance before stage 1, on its own machine: what degradation is judged against. */
export async function baseline(run: MigrationRun): Promise<StepsEnd | null> {
  const { input, agent, machine } = run;
  run.setState('baseline');
  const b = await run.m.measureBaseline(`baseline of ${agent} on ${machine}: ${input.timings.baselineSamples} samples`, {
    agent,
    samples: input.timings.baselineSamples,
    intervalMs: Math.min(1000, input.thresholds.sampleIntervalMs),
    responseThresholdMs: input.thresholds.responseTimeMs,
    ...(input.agent.controls?.length ? { controls: input.agent.controls } : {}),
  });
  run.status.baseline = b.baseline;
  run.notify.emit('baseline.measured', { baseline: b.baseline });
  return null;
}
