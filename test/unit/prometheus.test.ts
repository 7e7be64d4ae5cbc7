import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promQueryFor, promValue } from '../../activities/machine/prometheus';
import { thresholdsSchema } from '../../config/schema/plan';
import { evaluateSample, initialEvaluationState } from '../../decisions/triggers';

describe('PromQL probes: labels in, one number out, no result is no data', () => {
  it('puts the agent\'s labels into the query, escaped', () => {
    assert.equal(promQueryFor('rate(x{agent="{agent}",machine="{machine}"}[1m])', { agent: 'A"b\\c', machine: 'pc2' }), 'rate(x{agent="A\\"b\\\\c",machine="pc2"}[1m])');
  });

  const cases: Array<[string, object, number | null, RegExp | null]> = [
    ['one series', { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '0.25'] }] } }, 0.25, null],
    ['several series: the largest', { status: 'success', data: { resultType: 'vector', result: [{ value: [1, '0.1'] }, { value: [1, '0.7'] }] } }, 0.7, null],
    ['a scalar', { status: 'success', data: { resultType: 'scalar', result: [1, '3'] } }, 3, null],
    ['no series matched', { status: 'success', data: { resultType: 'vector', result: [] } }, null, /no series matched/],
    ['NaN', { status: 'success', data: { resultType: 'vector', result: [{ value: [1, 'NaN'] }] } }, null, /NaN or infinite/],
    ['a range result', { status: 'success', data: { resultType: 'matrix', result: [] } }, null, /a matrix result/],
    ['a bad query', { status: 'error', errorType: 'bad_data', error: 'parse error' }, null, /bad_data: parse error/],
  ];
  for (const [name, body, value, none] of cases) {
    it(name, () => {
      const v = promValue(body);
      if (value !== null) assert.ok('value' in v && v.value === value, JSON.stringify(v));
      else assert.ok('none' in v && none!.test(v.none), JSON.stringify(v));
    });
  }

  it('a measured query over its "above" fires; no data never does', () => {
    const t = thresholdsSchema.parse({ queries: [{ name: 'errors', query: 'x', above: 0.05 }] });
    const fire = evaluateSample([{ metric: 'query', probe: 'errors', status: 'measured', value: 0.2 }], null, t, initialEvaluationState());
    assert.ok(fire.result.verdict === 'fail' && fire.result.trigger.kind === 'prometheus-query' && fire.result.trigger.threshold === 0.05);
    const quiet = evaluateSample([{ metric: 'query', probe: 'errors', status: 'no-data', detail: 'unreachable' }], null, t, initialEvaluationState());
    assert.equal(quiet.result.verdict, 'pass');
    assert.equal(quiet.state.probeErrors, 1);
  });

  it('a plan refuses two queries of one name and multi-line PromQL', () => {
    assert.ok(!thresholdsSchema.safeParse({ queries: [{ name: 'a', query: 'x', above: 1 }, { name: 'a', query: 'y', above: 1 }] }).success);
    assert.ok(!thresholdsSchema.safeParse({ queries: [{ name: 'a', query: 'x\ny', above: 1 }] }).success);
  });
});
