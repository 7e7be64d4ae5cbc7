import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leftAfter, newRollbackRecord, type AppliedChange, type ChangeRollback } from '../../workflows/rollback/engine';

/**
 * What a rollback leaves applied (workflows/rollback/engine.ts leftAfter): the changes a person
 * accepted as they are, found by change and not by position, since machines roll back at once
 * and their undos end in any order (workflows/rollback/children.ts).
 */
const m = (agent: string, machine: string, week = 'week1', change = 'c1'): AppliedChange => ({ kind: 'migration', agent, machine, change, week, stages: [1, 2, 3] });
const op = (operation: string, machine: string, week = 'week1'): AppliedChange => ({ kind: 'operation', operation, machine, week });
const ended = (c: AppliedChange, result: ChangeRollback['result'], remainingStages: ChangeRollback['remainingStages'] = []): ChangeRollback => ({
  name: c.kind === 'migration' ? c.agent : `${c.machine}/${c.operation}`,
  kind: c.kind,
  ...(c.kind === 'migration' ? { change: c.change } : {}),
  week: c.week,
  result,
  undoneStages: [],
  remainingStages,
  failures: [],
  resolutions: [],
  readBack: null,
  healthAfter: null,
  healthy: true,
  at: '2026-12-03T00:00:00.000Z',
});

describe('leftAfter: what a rollback leaves applied, whatever order its undos ended in', () => {
  const a = m('A', 'mainpc');
  const b = m('B', 'pc2');
  const c = m('C', 'mainpc');
  const d = op('deploy-edgehub', 'pc2');
  const a2 = m('A', 'mainpc', 'week2');
  const a3 = m('A', 'mainpc', 'week1', 'c2');
  const cases: Array<{ name: string; changes: AppliedChange[]; ended: ChangeRollback[]; left: AppliedChange[] }> = [
    { name: 'everything undone: nothing left', changes: [a, b, c], ended: [ended(b, 'undone'), ended(c, 'undone'), ended(a, 'undone')], left: [] },
    {
      name: 'the middle change accepted, ended first: it stays, with the stages the agent still has',
      changes: [a, b, c],
      ended: [ended(b, 'accepted-as-is', [1]), ended(c, 'undone'), ended(a, 'undone')],
      left: [{ ...b, stages: [1], acceptedAsIs: true } as AppliedChange],
    },
    {
      name: 'two accepted, ended out of order: they stay in the order they were applied',
      changes: [a, b, c, d],
      ended: [ended(c, 'accepted-as-is', [2, 3]), ended(d, 'accepted-as-is'), ended(b, 'undone'), ended(a, 'accepted-as-is', [1, 2, 3])],
      left: [{ ...a, stages: [1, 2, 3], acceptedAsIs: true } as AppliedChange, { ...c, stages: [2, 3], acceptedAsIs: true } as AppliedChange, { ...d, acceptedAsIs: true }],
    },
    {
      name: 'one agent in two weeks and with two changes: each change is its own',
      changes: [a, a2, a3],
      ended: [ended(a3, 'undone'), ended(a2, 'accepted-as-is', [3]), ended(a, 'undone')],
      left: [{ ...a2, stages: [3], acceptedAsIs: true } as AppliedChange],
    },
    { name: 'a change the rollback never reached is not claimed as left', changes: [a, b], ended: [ended(b, 'undone')], left: [] },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const record = { ...newRollbackRecord(2, 'test'), changes: t.ended };
      assert.deepEqual(leftAfter(t.changes, record), t.left);
    });
  }
});
