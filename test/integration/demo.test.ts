import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../config/load';
import { projectRoot, toolPath } from '../../lib/paths';
import { Stack, waitForPort } from '../../lib/stack';
import { makeTestConfig } from '../support/harness';

const run = promisify(execFile);

/** A one-week plan over five agents on both machines, so the whole main job takes seconds. */
const smallPlan = {
  version: 1,
  id: 'demo-test',
  title: 'main job, run to the end, over a few agents',
  thresholds: { sampleIntervalMs: 250 },
  timings: { baselineSamples: 2, rapidVerificationMs: 1000, stageVerificationMs: 1000, observationMs: 2000, observationWindowMs: 1000 },
  weeks: [
    {
      id: 'week1',
      title: 'low-risk pilots on both machines',
      steps: [{ id: 'pilots', migrate: { change: 'baseagent', select: { agents: ['ChitchatAgent', 'ResponderAgent', 'BackupAgent', 'ConfigSyncAgent', 'PolicyGuardAgent'] }, pilots: 2, batchSize: 3, maxConcurrentPerMachine: 2, failureBudget: { perBatch: 1, perWeek: 1, onExceeded: 'pause' } } }],
      gate: { criteria: [{ kind: 'max-rollbacks', count: 1 }] },
    },
  ],
};

describe("the README's main command, run to the end", () => {
  let dataDir = '';
  let viewer: Stack | undefined;
  after(async () => {
    await viewer?.stop();
    if (!process.exitCode && dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 0 after the phase ran, leaves nothing running, and the run is in the history, the `temporal` CLI and the Web UI', async () => {
    const test = await makeTestConfig();
    dataDir = test.dataDir;
    writeFileSync(path.join(test.configDir, 'plans', 'demo.json'), JSON.stringify(smallPlan));

    const child = spawn(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), 'demo', '--until-done', '--config', test.configDir], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /phase demo-test completed: week1 passed/);
    assert.match(out, /rolled back by itself: integration-failure/, 'the demo shows an automatic rollback');
    const workflowId = /started as workflow (\S+)/.exec(out)![1]!;

    // Nothing left listening: the demo stopped its servers.
    await assert.rejects(waitForPort('127.0.0.1', test.ports.temporal, 0));
    await assert.rejects(waitForPort('127.0.0.1', test.ports.nats, 0));

    // The dev server's SQLite history survived; open it again and look as an operator would.
    const config = loadConfig(test.configDir);
    viewer = new Stack({ config, dataDir: path.join(test.dataDir, 'demo'), startSimulator: false, startWorkers: false });
    await viewer.start();
    const { stdout } = await run(toolPath('temporal'), ['workflow', 'list', '--address', `127.0.0.1:${test.ports.temporal}`, '--query', 'PhasegatePhase="demo-test"']);
    assert.match(stdout, new RegExp(`Completed\\s+${workflowId.replace(/\./g, '\\.')}\\s+phaseWorkflow`));
    assert.match(stdout, /Completed\s+\S+\.week1\s+weekWorkflow/);

    const ui = `http://127.0.0.1:${test.ports.ui}`;
    assert.equal((await fetch(ui)).status, 200);
    // The UI server dials the frontend once at start and backs off if it was not up yet.
    const url = `${ui}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}"`)}`;
    let res = await fetch(url);
    for (let i = 0; i < 30 && res.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 500));
      res = await fetch(url);
    }
    const body = (await res.json()) as { executions: Array<{ status: string; execution: { workflowId: string } }> };
    assert.ok(Array.isArray(body.executions), `UI answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    assert.equal(body.executions[0]?.execution.workflowId, workflowId);
    assert.equal(body.executions[0]?.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
  });
});
