import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { foldMachineBeat, heardSince, initialLinkState, judgeLinks, restartSilence } from '../../decisions/links';
import { steeringProblem } from '../../workflows/lib/steering';

describe('judging the cross-machine links (docs/domain.md: silent for over 10 s is a failure)', () => {
  const t0 = 1_000_000;
  const cases: Array<{ name: string; beats: Array<[string, number]>; restartAt?: number; now: number; silent: string[] }> = [
    { name: 'both heard a second ago', beats: [['mainpc', t0 + 9000], ['pc2', t0 + 9000]], now: t0 + 10_000, silent: [] },
    { name: 'pc2 last heard 10 s ago: not yet', beats: [['mainpc', t0 + 14_000], ['pc2', t0 + 5000]], now: t0 + 15_000, silent: [] },
    { name: 'pc2 last heard 10.001 s ago: failed', beats: [['mainpc', t0 + 14_000], ['pc2', t0 + 5000]], now: t0 + 15_001, silent: ['pc2'] },
    { name: 'never heard: counted from the start of the watch', beats: [['mainpc', t0 + 11_000]], now: t0 + 11_000, silent: ['pc2'] },
    { name: 'never heard, 9 s into the watch: not yet', beats: [], now: t0 + 9000, silent: [] },
    { name: 'the watcher lost NATS itself: silence counts again from its return', beats: [['pc2', t0 + 1000]], restartAt: t0 + 20_000, now: t0 + 25_000, silent: [] },
    { name: 'and fails 10 s after that return', beats: [['pc2', t0 + 1000]], restartAt: t0 + 20_000, now: t0 + 30_001, silent: ['mainpc', 'pc2'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let state = initialLinkState(t0);
      for (const [machine, at] of c.beats) state = foldMachineBeat(state, machine, at - 3, at);
      if (c.restartAt) state = restartSilence(state, c.restartAt);
      const readings = judgeLinks(state, ['mainpc', 'pc2'], c.now, 10_000);
      assert.deepEqual(readings.filter((r) => r.silent).map((r) => r.machine), c.silent);
    });
  }

  it('latency is the mean delay of the recent heartbeats; a link is back once heard after a given moment', () => {
    let state = initialLinkState(0);
    state = foldMachineBeat(state, 'pc2', 100, 104);
    state = foldMachineBeat(state, 'pc2', 1100, 1110);
    assert.equal(judgeLinks(state, ['pc2'], 1200, 10_000)[0]!.latencyMs, 7);
    assert.equal(heardSince(state, 'pc2', 1000), true);
    assert.equal(heardSince(state, 'pc2', 2000), false);
    assert.equal(heardSince(state, 'mainpc', 0), false);
  });

  it('silence is never negative and never more than the time since the watch began (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 100_000 }))), fc.integer({ min: 0, max: 200_000 }), (beats, now) => {
        let state = initialLinkState(0);
        for (const [m, at] of beats.sort((x, y) => x[1] - y[1])) state = foldMachineBeat(state, m, at, at);
        for (const r of judgeLinks(state, ['a', 'b'], Math.max(now, ...beats.map((b) => b[1])), 10_000)) {
          assert.ok(r.silentMs >= 0);
          assert.equal(r.silent, r.silentMs > 10_000);
        }
      }),
    );
  });
});

describe('steering signals are checked before they are acted on', () => {
  const table: Array<[Parameters<typeof steeringProblem>[0], unknown, RegExp | null]> = [
    ['pause', { by: 'ops' }, null],
    ['pause', { by: 'ops', reason: 'EdgeHub restarts' }, null],
    ['resume', { by: 'ops' }, null],
    ['abort', { by: 'ops', level: 2, reason: 'bad latency' }, null],
    ['abort', { by: 'ops', level: 3 }, null],
    ['pause', undefined, /got undefined/],
    ['pause', 7, /got number/],
    ['resume', { by: 'ops', reason: 'x' }, /unknown field "reason"/],
    ['abort', { by: 'ops', level: 0 }, /"level" must be 1, 2 or 3/],
    ['abort', { by: ['ops'], level: 1 }, /"by" must be a non-empty string/],
    ['pause', { by: 'o'.repeat(2001) }, /at most 2000/],
    ['machineUnreachable', { machine: 'pc2', what: 'undo', queueWaitMs: 120000, workflowId: 'w' }, null],
    ['machineUnreachable', { machine: 'pc2', what: 'undo', queueWaitMs: -1, workflowId: 'w' }, /queueWaitMs/],
    ['machineUnreachable', { machine: 'pc2', what: 'undo', queueWaitMs: 1 }, /"workflowId"/],
  ];
  for (const [signal, arg, expected] of table) {
    it(`${signal} ${JSON.stringify(arg)?.slice(0, 60) ?? 'undefined'}: ${expected ? 'refused' : 'accepted'}`, () => {
      const problem = steeringProblem(signal, arg);
      if (expected) assert.match(problem ?? '(accepted)', expected);
      else assert.equal(problem, null);
    });
  }

  it('any value whatever: either accepted as a well-formed request or refused with a reason, never a throw (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('pause', 'resume', 'abort', 'machineUnreachable') as fc.Arbitrary<Parameters<typeof steeringProblem>[0]>, fc.anything(), (signal, arg) => {
        const problem = steeringProblem(signal, arg);
        if (problem === null) {
          const a = arg as { by?: unknown; level?: unknown };
          if (signal !== 'machineUnreachable') assert.equal(typeof a.by, 'string');
          if (signal === 'abort') assert.ok([1, 2, 3].includes(a.level as number));
        } else assert.equal(typeof problem, 'string');
      }),
      { numRuns: 3000 },
    );
  });
});
