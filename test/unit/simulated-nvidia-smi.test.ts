import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseGpuApps, parseGpuRows } from '../../activities/machine/probes';
import { loadConfig } from '../../config/load';
import { createLogger } from '../../lib/logger';
import { projectRoot } from '../../lib/paths';
import { FleetSimulator } from '../../simulator/server';
import { makeTestConfig } from '../support/harness';

const run = promisify(execFile);
const smi = path.join(projectRoot, 'simulator', 'bin', 'nvidia-smi');
const gpuArgs = ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'];
const appArgs = ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'];

/**
 * The simulated machines' nvidia-smi (simulator/bin/nvidia-smi): a single query is one curl to
 * the simulator, the looping mode a Node process; both must print what the simulator's GPU model
 * holds, in the CSV that the real GPU probe parses (activities/machine/probes.ts), and fail as
 * the real one does (exit 9, a message on stderr) when the driver cannot be reached.
 */
describe('the simulated nvidia-smi', () => {
  let simulator: FleetSimulator;
  let env: NodeJS.ProcessEnv;
  let model: { gpus: Array<{ uuid: string; usedMiB: number; totalMiB: number }>; apps: Array<{ pid: number; usedMiB: number; gpuUuid: string }> };

  before(async () => {
    const test = await makeTestConfig();
    const config = loadConfig(test.configDir);
    simulator = new FleetSimulator({ inventory: config.inventory, machines: ['mainpc', 'pc2'], adminHost: '127.0.0.1', adminPort: test.ports.admin, failoverDetectMs: 1000, logger: createLogger('test', 'warn') });
    await simulator.start();
    env = { ...process.env, PHASEGATE_SIMULATOR_ADMIN: simulator.adminUrl, PHASEGATE_MACHINE: 'mainpc', PHASEGATE_NODE: process.execPath };
    model = (await (await fetch(`${simulator.adminUrl}/machines/mainpc/gpu`)).json()) as typeof model;
  });
  after(async () => simulator?.stop());

  it("prints the simulator's GPU as --query-gpu does, and the probe reads it", async () => {
    const { stdout } = await run(smi, gpuArgs, { env });
    const g = model.gpus[0]!;
    assert.equal(stdout, `${g.uuid}, ${g.usedMiB}, ${g.totalMiB}\n`);
    assert.deepEqual(parseGpuRows(stdout), [{ id: g.uuid, usedMiB: g.usedMiB, totalMiB: g.totalMiB }]);
  });

  it("prints one line per agent process holding GPU memory, as --query-compute-apps does, and the probe reads them", async () => {
    const { stdout } = await run(smi, appArgs, { env });
    assert.ok(model.apps.length > 0, 'mainpc runs agents that hold GPU memory');
    assert.equal(stdout, model.apps.map((a) => `${a.pid}, ${a.usedMiB}, ${a.gpuUuid}\n`).join(''));
    assert.deepEqual(parseGpuApps(stdout)?.map((a) => a.pid), model.apps.map((a) => a.pid));
  });

  it('prints [N/A] for a field it does not model, as the real one does for an unsupported field', async () => {
    const { stdout } = await run(smi, ['--query-gpu=uuid,temperature.gpu', '--format=csv,noheader,nounits'], { env });
    assert.equal(stdout, `${model.gpus[0]!.uuid}, [N/A]\n`);
  });

  it('prints a reading every --loop-ms until it is stopped', async () => {
    const child = spawn(smi, [...gpuArgs, '--loop-ms=150'], { env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    const lines = out.split('\n').filter(Boolean);
    assert.ok(lines.length >= 3, `readings in 1 s at 150 ms: ${lines.length}`);
    assert.ok(lines.every((l) => l.startsWith(`${model.gpus[0]!.uuid}, `)), out);
  });

  it('fails with exit 9 and a message when the simulator cannot be reached, or is not named', async () => {
    const closed = { ...env, PHASEGATE_SIMULATOR_ADMIN: 'http://127.0.0.1:9' };
    for (const e of [closed, { ...env, PHASEGATE_MACHINE: '' }]) {
      const err = (await run(smi, gpuArgs, { env: e }).then(() => null, (x: unknown) => x)) as { code: number; stderr: string } | null;
      assert.ok(err, 'it must fail');
      assert.equal(err.code, 9);
      assert.match(err.stderr, /^NVIDIA-SMI has failed because it could(n't| not)/);
    }
  });

  it('refuses a machine it does not simulate, and a name it would have to escape', async () => {
    for (const machine of ['nosuch', 'main pc']) {
      const err = (await run(smi, gpuArgs, { env: { ...env, PHASEGATE_MACHINE: machine } }).then(() => null, (x: unknown) => x)) as { code: number; stderr: string } | null;
      assert.equal(err?.code, 9, machine);
      assert.match(err.stderr, /NVIDIA-SMI has failed/);
    }
  });
});
