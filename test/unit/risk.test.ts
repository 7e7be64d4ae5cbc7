import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/load';
import { assessRisk, bandForScore, ratingFromSizeKb, type RiskInput } from '../../decisions/risk';
import { defaultConfigDir } from '../../lib/paths';

describe('risk assessment of the default inventory', () => {
  const inventory = loadConfig(defaultConfigDir).inventory;
  const agent = (name: string) => inventory.agents.find((a) => a.name === name)!;

  it('ModelManagerAgent scores 35: high band, framework migration, file size derived from 227 KB', () => {
    const r = assessRisk(agent('ModelManagerAgent'));
    assert.equal(r.score, 35);
    assert.equal(r.band, 'high');
    assert.equal(r.strategy, 'framework');
    const size = r.factors.find((f) => f.factor === 'fileSize')!;
    assert.deepEqual([size.rating, size.basis, size.contribution], ['high', 'source-size', 12]);
  });

  it('tutoring_agent scores 28', () => {
    const r = assessRisk(agent('tutoring_agent'));
    assert.equal(r.score, 28);
    assert.equal(r.band, 'high');
  });

  it('every band is represented except critical', () => {
    const bands = new Set(inventory.agents.map((a) => assessRisk(a).band));
    assert.deepEqual([...bands].sort(), ['high', 'low', 'medium']);
  });
});

describe('risk scoring table', () => {
  const all = (r: 'low' | 'medium' | 'high'): RiskInput => ({ risk: { fileSize: r, gpu: r, threading: r, databases: r, role: r } });
  const cases: Array<[string, RiskInput, number, string, string]> = [
    ['all low', all('low'), 0, 'low', 'rapid'],
    ['all medium', all('medium'), 20, 'medium', 'staged'],
    ['all high', all('high'), 40, 'critical', 'critical'],
    ['size high only', { risk: { fileSize: 'high', gpu: 'low', threading: 'low', databases: 'low', role: 'low' } }, 12, 'low', 'rapid'],
    ['gpu + threading high', { risk: { fileSize: 'low', gpu: 'high', threading: 'high', databases: 'low', role: 'low' } }, 18, 'medium', 'staged'],
    ['ModelManagerAgent shape', { risk: { fileSize: 'high', gpu: 'high', threading: 'high', databases: 'medium', role: 'medium' } }, 35, 'high', 'framework'],
    ['derived size: 201 KB is high', { source: { sizeKb: 201 }, risk: { gpu: 'low', threading: 'low', databases: 'low', role: 'low' } }, 12, 'low', 'rapid'],
    ['override recorded and used', { risk: { fileSize: 'low', gpu: 'low', threading: 'low', databases: 'low', role: 'low' }, riskOverride: { score: 38, reason: 'touches billing' } }, 38, 'critical', 'critical'],
  ];
  for (const [name, input, score, band, strategy] of cases) {
    it(name, () => {
      const r = assessRisk(input);
      assert.deepEqual([r.score, r.band, r.strategy], [score, band, strategy]);
      if (input.riskOverride) {
        assert.equal(r.computedScore, 0);
        assert.deepEqual(r.override, input.riskOverride);
      }
    });
  }

  const edges: Array<[number, string]> = [
    [0, 'low'], [15, 'low'], [15.5, 'medium'], [16, 'medium'], [25, 'medium'], [26, 'high'], [35, 'high'], [35.1, 'critical'], [36, 'critical'], [40, 'critical'],
  ];
  for (const [score, band] of edges) it(`band edge: ${score} is ${band}`, () => assert.equal(bandForScore(score), band));

  const sizes: Array<[number, string]> = [[0, 'low'], [50, 'low'], [51, 'medium'], [200, 'medium'], [200.5, 'high'], [227, 'high']];
  for (const [kb, rating] of sizes) it(`source size ${kb} KB rates ${rating}`, () => assert.equal(ratingFromSizeKb(kb), rating));

  it('a factor with no rating and nothing to derive it from is an error, not a zero', () => {
    assert.throws(() => assessRisk({ risk: { gpu: 'low', threading: 'low', databases: 'low', role: 'low' } }), /fileSize/);
  });
});
