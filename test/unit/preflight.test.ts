import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thresholdsSchema } from '../../config/schema/plan';
import { preflightProblems, type PreflightReadings } from '../../decisions/preflight';

describe('the pre-flight check: an agent or machine already unhealthy is not migrated', () => {
  const t = thresholdsSchema.parse({});
  const healthy: PreflightReadings = { integration: { metric: 'integration', status: 'measured', value: 1 }, gpuMemoryPct: 40, load: 2, loadPerCore: 0.5 };
  const cases: Array<[string, Partial<PreflightReadings>, object, RegExp[]]> = [
    ['healthy: no problem', {}, {}, []],
    ['integration already failing', { integration: { metric: 'integration', status: 'measured', value: 0, detail: 'db unreachable' } }, {}, [/integration check already fails: db unreachable/]],
    ['integration not measurable is not a failure', { integration: { metric: 'integration', status: 'no-data', detail: 'timed out' } }, {}, []],
    ['GPU already over 95 %', { gpuMemoryPct: 96.4 }, {}, [/GPU memory already 96.4 % used, over 95 %/]],
    ['GPU exactly 95 % is not over', { gpuMemoryPct: 95 }, {}, []],
    ['no GPU reading (not applicable) is no problem', { gpuMemoryPct: null }, {}, []],
    ['load average already over 10', { load: 12.5 }, {}, [/1-minute load average is already 12.5, over 10/]],
    ['per-core load only when the plan sets it', { loadPerCore: 3 }, {}, []],
    ['per-core load over the plan\'s limit', { loadPerCore: 3 }, { loadPerCore: 2 }, [/load per core is already 3, over 2/]],
    ['several at once, each named', { gpuMemoryPct: 99, load: 20 }, {}, [/GPU/, /load average/]],
  ];
  for (const [name, over, thresholds, expected] of cases) {
    it(name, () => {
      const problems = preflightProblems({ ...healthy, ...over }, { ...t, ...thresholds });
      assert.equal(problems.length, expected.length, problems.join('; '));
      expected.forEach((re, i) => assert.match(problems[i]!, re));
    });
  }
});
