import assert from 'node:assert/strict';
import type { ActionRecord, AgentView } from '../../simulator/fleet-state';
import type { WeekStatus } from '../../workflows/week';
import { simulatorClient } from './harness';

/**
 * Compares the simulator's record of actions with a week's record of its migrations, agent by
 * agent: a stage is never applied twice without an undo between, every agent the week calls
 * migrated has all three stages and the new version, and every agent it calls rolled back
 * has none left. Throws (assert) on the first disagreement; returns how many actions it read.
 */
export async function checkRecordsAgree(simulatorAdmin: string | string[], week: WeekStatus, change: string): Promise<{ actionsChecked: number; migrated: number; rolledBack: number }> {
  // One simulator for the fleet, or one per machine (the partition drill).
  const sims = (Array.isArray(simulatorAdmin) ? simulatorAdmin : [simulatorAdmin]).map(simulatorClient);
  const actions = (await Promise.all(sims.map((s) => s.actions()))).flat();
  const agents = (await Promise.all(sims.map((s) => s.agents()))).flat();
  let actionsChecked = 0;
  for (const progress of week.agents) {
    const view = agents.find((a: AgentView) => a.name === progress.agent)!;
    const mine = actions.filter((a: ActionRecord) => a.agent === progress.agent && a.change === change);
    for (const stage of [1, 2, 3]) {
      const seq = mine.filter((a) => a.stage === stage && (a.outcome === 'applied' || a.outcome === 'undone')).map((a) => a.outcome);
      for (let i = 1; i < seq.length; i++) assert.notEqual(seq[i], seq[i - 1], `${progress.agent} stage ${stage}: ${seq.join(', ')}`);
      actionsChecked += mine.filter((a) => a.stage === stage).length;
    }
    if (progress.state === 'migrated') {
      assert.deepEqual([...(view.changes[change] ?? [])].sort(), [1, 2, 3], `${progress.agent} migrated in the workflow`);
      // The simulator's version names every change the agent carries (in its own order): this one is among them.
      assert.ok(view.version.split('+').slice(1).includes(change), `${progress.agent} carries ${change} in its version ${view.version}`);
    } else {
      assert.ok(['rolled-back', 'undone-with-week', 'rejected'].includes(progress.state), `${progress.agent} left ${progress.state}`);
      assert.equal(view.changes[change], undefined, `${progress.agent} ${progress.state}, but the simulator still has ${JSON.stringify(view.changes)}`);
    }
  }
  return {
    actionsChecked,
    migrated: week.agents.filter((a) => a.state === 'migrated').length,
    rolledBack: week.agents.filter((a) => a.state !== 'migrated').length,
  };
}
