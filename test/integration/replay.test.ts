import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { projectRoot } from '../../lib/paths';
import { recordReliability } from '../support/reliability-summary';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'histories');
/**
 * The latest recording at the top, and older recordings kept in subfolders (e.g.
 * before-link-watch/): a patched() change must keep replaying both.
 */
const files = readdirSync(fixtures)
  .flatMap((f) => (statSync(path.join(fixtures, f)).isDirectory() ? readdirSync(path.join(fixtures, f)).map((g) => `${f}/${g}`) : [f]))
  .filter((f) => f.endsWith('.json'))
  .sort();
const history = (f: string) => historyFromJSON(JSON.parse(readFileSync(path.join(fixtures, f), 'utf8')));
/** Fixture files are named `<workflow type>.<workflow id>.json`; ids matter to child workflows. */
const workflowIdOf = (f: string) => path.basename(f).slice(path.basename(f).indexOf('.') + 1, -'.json'.length);
Runtime.install({ logger: new DefaultLogger('WARN') });

describe('replay guard: histories recorded from the dev server replay against the workflows of this commit', () => {
  it('the fixtures cover every workflow type the control worker serves', async () => {
    const exported = Object.keys(await import('../../workflows')).sort();
    const recorded = [...new Set(files.filter((f) => !f.includes('/')).map((f) => f.split('.')[0]!))].sort();
    assert.deepEqual(recorded, exported, 'record them again with scripts/record-histories.sh');
  });

  it('every recorded history replays without a determinism violation', async () => {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') });
    const failures: string[] = [];
    for (const f of files) {
      try {
        await Worker.runReplayHistory({ workflowBundle, replayName: f }, history(f), workflowIdOf(f));
      } catch (err) {
        failures.push(`${f}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, [], 'a workflow change broke replay of a recorded history: make it compatible (patched/versioned) or record the fixtures again');
    console.log(`replayed ${files.length} recorded histories`);
  });

  it('a deliberately non-deterministic change to a workflow fails the replay', async () => {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../support/nondeterministic-workflows'), logger: new DefaultLogger('WARN') });
    const f = files.find((x) => x.startsWith('agentMigrationWorkflow.'))!;
    await assert.rejects(Worker.runReplayHistory({ workflowBundle, replayName: f }, history(f), workflowIdOf(f)), (err: Error) => err instanceof DeterminismViolationError);
    recordReliability({
      suite: 'replay guard',
      faultsInjected: 1,
      phasesFinished: 0,
      actionsChecked: 0,
      inputsRejected: 0,
      eventsLost: 0,
      detail: `${files.length} recorded histories of every workflow type replayed; a timer added to agentMigrationWorkflow caught as a determinism violation`,
    });
  });
});
