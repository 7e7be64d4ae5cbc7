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
    ['load per core 3.2 passes when the plan sets no per-core limit', { metric: 'loadPerCore', status: 'measured', value: 3.2 }, null],
    ['response 5200 ms fires (over 5000 ms)', { metric: 'responseTimeMs', status: 'measured', value: 5200 }, 'response-time', 5200, 5000],
    ['response 5000 ms is not a breach of 5000 ms', { metric: 'responseTimeMs', status: 'measured', value: 5000 }, null],
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

describe('load: the machine\'s 1-minute load average, and per core only when a plan asks', () => {
  const load = (v: number, perCore: number): Reading[] => [...ok.filter((o) => o.metric !== 'load'), { metric: 'load', status: 'measured', value: v }, { metric: 'loadPerCore', status: 'measured', value: perCore, detail: `1-minute load average ${v} over 16 cores` }];

  it('a 16-core machine at load average 12 fires the seeds\' "load over 10" (per core it is 0.75)', () => {
    const { result } = run([load(12, 0.75)]);
    assert.ok(result.verdict === 'fail' && result.trigger.kind === 'system-load');
    assert.ok(result.verdict === 'fail' && result.trigger.unit === 'load' && /1-minute load average 12, over 10/.test(result.trigger.detail));
  });

  it('a plan\'s per-core limit fires on the per-core reading and says so', () => {
    const { result } = run([load(9, 1.8)], { ...t, loadPerCore: 1.5 });
    assert.ok(result.verdict === 'fail' && result.trigger.unit === 'load per core', JSON.stringify(result));
    assert.ok(result.verdict === 'fail' && result.trigger.measured === 1.8 && result.trigger.threshold === 1.5);
    assert.ok(result.verdict === 'fail' && /over 16 cores: 1.8 per core, over 1.5/.test(result.trigger.detail));
  });
});

describe('degradation is not judged sample by sample (decisions/judge.ts judges the window)', () => {
  const resp = (ms: number) => withReading({ metric: 'responseTimeMs', status: 'measured', value: ms });

  it('a run of samples 80 % slower than the baseline p50 does not fail the sample rule: a busy machine looks the same', () => {
    const { result } = run([resp(180), resp(180), resp(180), resp(180), resp(180)], { ...t, degradationMinDeltaMs: 0 });
    assert.equal(result.verdict, 'pass');
  });

  it('a sample over the response-time threshold still fails at once', () => {
    const { result } = run([resp(100), resp(5200)]);
    assert.ok(result.verdict === 'fail' && result.trigger.kind === 'response-time');
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
