import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseControls, closestControls, maxControlCandidates, unchangedControls } from '../../decisions/controls';

describe('controls: unchanged agents on the same machine, same category first, closest in speed kept', () => {
  const inventory = [
    { name: 'a', machine: 'm1', category: 'core' },
    { name: 'b', machine: 'm1', category: 'memory' },
    { name: 'c', machine: 'm1', category: 'core' },
    { name: 'd', machine: 'm2', category: 'core' },
    { name: 'e', machine: 'm1', category: 'core' },
    { name: 'f', machine: 'm1', category: 'utility' },
  ];
  const cases: Array<[string, string, string[], string[]]> = [
    ['same category first, then the machine\'s others; never another machine', 'a', [], ['c', 'e', 'b', 'f']],
    ['agents the week changes are left out', 'a', ['c', 'b'], ['e', 'f']],
    ['no other agent on the machine: no control', 'd', [], []],
    ['an agent of a category alone on its machine gets the others', 'b', [], ['a', 'c', 'e', 'f']],
  ];
  for (const [name, agent, changed, expected] of cases) {
    it(name, () => assert.deepEqual(chooseControls({ name: agent, machine: inventory.find((x) => x.name === agent)!.machine }, inventory, new Set([agent, ...changed])), expected));
  }

  it(`at most ${maxControlCandidates} candidates`, () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `x${i}`, machine: 'm', category: 'core' }));
    assert.equal(chooseControls({ name: 'x0', machine: 'm' }, many, new Set(['x0'])).length, maxControlCandidates);
  });

  it('a week input written by hand loses the controls the week changes', () => {
    assert.deepEqual(unchangedControls(['a', 'b', 'c'], new Set(['b'])), ['a', 'c']);
    assert.deepEqual(unchangedControls(undefined, new Set()), []);
  });

  it('the baseline keeps the three closest in speed, on a log scale (400 ms is as far from 200 as 100 is)', () => {
    const measured = [
      { name: 'fast', medianMs: 2 },
      { name: 'half', medianMs: 100 },
      { name: 'same', medianMs: 210 },
      { name: 'double', medianMs: 400 },
      { name: 'slow', medianMs: 5000 },
      { name: 'silent', medianMs: Number.NaN },
    ];
    assert.deepEqual(closestControls(200, measured), ['same', 'half', 'double']);
    assert.deepEqual(closestControls(3, measured, 2), ['fast', 'half']);
  });
});
