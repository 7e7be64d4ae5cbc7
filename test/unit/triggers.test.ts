import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thresholdsSchema } from '../../config/schema/plan';
import { evaluateSample, initialEvaluationState, type Baseline, type EvaluationState, type Reading } from '../../decisions/triggers';

const t = thresholdsSchema.parse({});
const baseline: Baseline = { responseP50Ms: 100, responseP95Ms: 120, responseStdDevMs: 10, gpuMemoryPct: 50, load: 1 };
const ok: Reading[] = [
  { metric: 'responseTimeMs', status: 'measured', value: 100 },
  { metric: 'agentUp', status: 'measured', value: 1 },
  { metric: 'gpuMemoryPct', status: 'measured', value: 50 },
  { metric: 'load', status: 'measured', value: 1 },
  { metric: 'integration', status: 'measured', value: 1 },
];
const withReading = (r: Reading): Reading[] => [...ok.filter((o) => o.metric !== r.metric), r];

function run(samples: Reading[][], thresholds = t, base: Baseline | null = baseline) {
  let state: EvaluationState = initialEvaluationState();
  let last;
  for (const s of samples) {
    const judged = evaluateSample(s, base, thresholds, state);
    state = judged.state;
    last = judged.result;
    if (last.verdict !== 'pass') break;
  }
  return { result: last!, state };
}

describe('trigger evaluation: each trigger at its docs/domain.md default', () => {
  const cases: Array<[string, Reading, string | null, number?, number?]> = [
    ['GPU memory 96 % fires (over 95 %)', { metric: 'gpuMemoryPct', status: 'measured', value: 96 }, 'gpu-memory', 96, 95],
    ['GPU memory exactly 95 % passes', { metric: 'gpuMemoryPct', status: 'measured', value: 95 }, null],
    ['load 10.5 fires (over 10)', { metric: 'load', status: 'measured', value: 10.5 }, 'system-load', 10.5, 10],
    ['load exactly 10 passes', { metric: 'load', status: 'measured', value: 10 }, null],
    ['response 5200 ms fires (over 5000 ms)', { metric: 'responseTimeMs', status: 'measured', value: 5200 }, 'response-time', 5200, 5000],
    ['response 5000 ms is not a breach of 5000 ms but is degradation', { metric: 'responseTimeMs', status: 'measured', value: 5000 }, null],
    ['a failed integration check fires', { metric: 'integration', status: 'measured', value: 0, detail: 'db unreachable' }, 'integration-failure', 0, 1],
    ['an agent that is down fires', { metric: 'agentUp', status: 'measured', value: 0, detail: 'ECONNREFUSED' }, 'agent-down', 0, 1],
    ['GPU not applicable (no GPU) passes and is not an error', { metric: 'gpuMemoryPct', status: 'not-applicable', detail: 'nvidia-smi not found' }, null],
  ];
  for (const [name, reading, kind, measured, threshold] of cases) {
    it(name, () => {
      const { result, state } = run([withReading(reading)]);
      if (kind === null) {
        assert.equal(result.verdict, 'pass');
        assert.equal(state.probeErrors, 0);
      } else {
        assert.equal(result.verdict, 'fail');
        assert.ok(result.verdict === 'fail');
        assert.equal(result.trigger.kind, kind);
        assert.equal(result.trigger.measured, measured);
        assert.equal(result.trigger.threshold, threshold);
      }
    });
  }
});

describe('degradation against the baseline', () => {
  const resp = (ms: number) => withReading({ metric: 'responseTimeMs', status: 'measured', value: ms });

  it('fires when the median of recent samples is over 15 % slower than the baseline p50', () => {
    const { result } = run([resp(120), resp(120), resp(120)], { ...t, degradationMinDeltaMs: 0 });
    assert.equal(result.verdict, 'fail');
    assert.ok(result.verdict === 'fail' && result.trigger.kind === 'degradation');
    assert.ok(result.verdict === 'fail' && result.trigger.measured === 20);
  });

  it('does not fire at 14 % slower', () => {
    const { result } = run([resp(114), resp(114), resp(114), resp(114)], { ...t, degradationMinDeltaMs: 0 });
    assert.equal(result.verdict, 'pass');
  });

  it('one slow sample among fast ones is not degradation (median, not a single sample)', () => {
    const { result } = run([resp(100), resp(100), resp(400), resp(100), resp(100)]);
    assert.equal(result.verdict, 'pass');
  });

  it('Phase 2 plans use 10 %: 12 % slower fires there', () => {
    const { result } = run([resp(112), resp(112), resp(112)], { ...t, degradationPct: 10, degradationMinDeltaMs: 0 });
    assert.ok(result.verdict === 'fail' && result.trigger.kind === 'degradation');
  });

  it('a slow-down under the absolute floor is noise (1 ms to 2 ms on loopback)', () => {
    const tiny: Baseline = { ...baseline, responseP50Ms: 1, responseStdDevMs: 0.1 };
    const { result } = run([resp(2), resp(2), resp(2)], t, tiny);
    assert.equal(result.verdict, 'pass');
  });

  it('a sample 2 standard deviations out escalates without failing', () => {
    const { result } = run([resp(100), resp(100), resp(175)]);
    assert.equal(result.verdict, 'pass');
    assert.equal(result.escalations[0]?.unit, 'sigma');
  });
});

describe('no data is not failure', () => {
  const noData: Reading[] = [{ metric: 'responseTimeMs', status: 'no-data', detail: 'probe timed out' }, ...ok.filter((r) => r.metric !== 'responseTimeMs')];

  it('a probe error is counted apart and the sample passes', () => {
    const { result, state } = run([noData]);
    assert.equal(result.verdict, 'pass');
    assert.equal(state.probeErrors, 1);
    assert.equal(state.consecutiveProbeErrors, 1);
  });

  it('five probe errors in a row make the window inconclusive, not failed', () => {
    const { result, state } = run([noData, noData, noData, noData, noData]);
    assert.equal(result.verdict, 'inconclusive');
    assert.equal(state.consecutiveProbeErrors, 5);
  });

  it('a good sample resets the consecutive count', () => {
    const { result, state } = run([noData, noData, noData, noData, ok, noData, noData]);
    assert.equal(result.verdict, 'pass');
    assert.equal(state.consecutiveProbeErrors, 2);
    assert.equal(state.probeErrors, 6);
  });
});

describe('consecutive breaches', () => {
  const hot = withReading({ metric: 'gpuMemoryPct', status: 'measured', value: 97 });
  it('with consecutiveBreaches 3, two hot samples pass and the third fires', () => {
    const three = { ...t, consecutiveBreaches: 3 };
    assert.equal(run([hot, hot], three).result.verdict, 'pass');
    assert.equal(run([hot, hot, hot], three).result.verdict, 'fail');
  });
  it('a cool sample in between starts the count again', () => {
    const three = { ...t, consecutiveBreaches: 3 };
    assert.equal(run([hot, hot, ok, hot, hot], three).result.verdict, 'pass');
  });
});
