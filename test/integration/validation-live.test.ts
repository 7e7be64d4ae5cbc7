import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ValidationReport } from '../../decisions/validation';
import { projectRoot } from '../../lib/paths';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';

const run = promisify(execFile);

describe('a live validation on the real dev server, wall-clock heartbeats, read with the project CLI', () => {
  let env: TestStack;
  let cli: (...args: string[]) => Promise<{ stdout: string; stderr: string; code: number }>;

  before(async () => {
    env = await startTestStack();
    cli = (...args) =>
      run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), ...args, '--config', env.config.configDir]).then(
        (r) => ({ ...r, code: 0 }),
        (err: { stdout: string; stderr: string; code: number }) => ({ stdout: err.stdout, stderr: err.stderr, code: err.code }),
      );
  });
  after(async () => env?.stop());

  it('measures a 6-second crash of one agent in real time, ends early on the spent budget, and `phasegate report` shows the report while it runs and after', async () => {
    const sim = simulatorClient(env.simulatorAdmin);
    const id = 'validation.live-test';
    // 45 s in windows of 15 s: the error budget is 0.1 % of 45 s, 45 ms of fleet-wide downtime.
    const started = await cli('validate', 'start', '--hours', '0.0125', '--window-minutes', '0.25', '--id', id);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /validation validation\.live-test started: 0\.0125 h over 79 agents and hubs/);

    await new Promise((r) => setTimeout(r, 5000));
    const running = await cli('report', id);
    assert.equal(running.code, 0, running.stderr);
    assert.match(running.stdout, /# Validation validation\.live-test: RUNNING/);

    // Inside the second window (15-30 s): down from about 16 s to 22 s.
    await new Promise((r) => setTimeout(r, 11_000));
    await sim.fault('ChitchatAgent', { crashed: true });
    await new Promise((r) => setTimeout(r, 6000));
    await sim.fault('ChitchatAgent', { crashed: false });

    const handle = env.client.workflow.getHandle(id);
    await handle.result();
    const done = await cli('report', id, '--json');
    assert.equal(done.code, 0, done.stderr);
    const r = JSON.parse(done.stdout) as ValidationReport;
    const chitchat = r.agents.find((a) => a.name === 'ChitchatAgent')!;
    // Heartbeats every second here: within one interval (plus the admin call's own latency).
    assert.ok(Math.abs(chitchat.downMs - 6000) <= 1500, `ChitchatAgent down ${chitchat.downMs} ms`);
    assert.equal(chitchat.restarts, 1);
    for (const a of r.agents) if (a.name !== 'ChitchatAgent') assert.equal(a.downMs, 0, `${a.name} down ${a.downMs} ms`);
    assert.equal(r.hubs.every((h) => h.downMs === 0), true);
    assert.equal(r.kpis.find((k) => k.id === 'message-delivery')!.value, 100);
    // 6 s of one agent among 77 is 78 ms of fleet-wide downtime: over the 45 ms budget, so
    // the validation fails when the second window closes instead of running its third.
    assert.equal(r.verdict, 'failed');
    assert.equal(r.endedEarly, true);
    assert.equal(r.history.windows, 2);
    assert.ok(r.overhead.samples >= 4 && r.overhead.rssMbMax > 0);
    const md = await cli('report', id);
    assert.match(md.stdout, /\| ChitchatAgent \| mainpc \| [\d.]+ % \| \d\.\d s \| 1 \|/);

    const wrong = await cli('report', 'no-such-validation');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /no workflow "no-such-validation": list validations with/);
    const bad = await cli('validate', 'start', '--hours', '0.001', '--window-minutes', '5');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--window-minutes: windowMs must not be longer than durationMs/);
    console.log(`live validation: ChitchatAgent down ${chitchat.downMs} ms (crashed for ~6000), worker overhead CPU ${r.overhead.cpuPctAvg} % avg, RSS ${r.overhead.rssMbMax} MB`);
  });
});
