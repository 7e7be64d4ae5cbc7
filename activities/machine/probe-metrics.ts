import type { MetricMeter } from '@temporalio/common';

export type ProbeName = 'response' | 'gpu' | 'load' | 'integration' | 'query';

/**
 * Times each probe of a machine worker into `phasegate_probe_latency_ms` (labels machine,
 * probe), on the worker runtime's meter, so it is served on the worker's /metrics beside
 * the SDK's own. Without a meter (benchmarks, tests of the activities alone) it only runs.
 */
export function probeTimer(meter: MetricMeter | null, machine: string) {
  const histogram = meter?.createHistogram('phasegate_probe_latency_ms', 'float', 'ms', 'Time one probe reading took, by probe') ?? null;
  return async function timed<T>(probe: ProbeName, read: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await read();
    } finally {
      histogram?.record(performance.now() - started, { machine, probe });
    }
  };
}
