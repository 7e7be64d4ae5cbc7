import type { Reading, TriggerThresholds } from './triggers';

/**
 * The pre-flight check before stage 1: is the agent, or its machine, already unhealthy? A
 * change applied to an agent that already fails its integration check, or on a GPU already
 * over its limit, would be rolled back for what it did not cause. Pure; the baseline's
 * readings in, the problems out (none: go ahead). Table-tested in test/unit/preflight.test.ts.
 */
export interface PreflightReadings {
  /** The integration check run once during the baseline (null: not run). */
  integration: Reading | null;
  /** Medians over the baseline's samples (null: never measured). */
  gpuMemoryPct: number | null;
  load: number | null;
  loadPerCore: number | null;
}

export function preflightProblems(r: PreflightReadings, t: Pick<TriggerThresholds, 'gpuMemoryPct' | 'load' | 'loadPerCore'>): string[] {
  const problems: string[] = [];
  if (r.integration?.status === 'measured' && r.integration.value === 0) problems.push(`the integration check already fails: ${r.integration.detail ?? 'failed'}`);
  if (r.gpuMemoryPct !== null && r.gpuMemoryPct > t.gpuMemoryPct) problems.push(`GPU memory already ${Math.round(r.gpuMemoryPct * 10) / 10} % used, over ${t.gpuMemoryPct} %`);
  if (r.load !== null && r.load > t.load) problems.push(`the machine's 1-minute load average is already ${Math.round(r.load * 100) / 100}, over ${t.load}`);
  if (t.loadPerCore !== undefined && r.loadPerCore !== null && r.loadPerCore > t.loadPerCore) problems.push(`the load per core is already ${Math.round(r.loadPerCore * 100) / 100}, over ${t.loadPerCore}`);
  return problems;
}
