import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CatalogueRunner, runCommand } from '../../activities/machine/catalogue-runner';
import { useCommandLedger } from '../../activities/machine/process-group';
import { liveProcessesMatching } from '../support/procs';
import { loadConfig } from '../../config/load';
import { defaultConfigDir } from '../../lib/paths';

const config = loadConfig(defaultConfigDir);
const runner = new CatalogueRunner(config.catalogues.pc2!, config.inventory.agents, {
  node: '/usr/bin/node',
  projectRoot: '/srv/phasegate',
  machine: 'pc2',
  simulatorAdmin: 'http://127.0.0.1:7900',
});

describe('catalogue runner: requests become exactly the catalogue command, or nothing', () => {
  it('fills the catalogue template with validated values', () => {
    const r = runner.resolve({ action: 'apply-stage', agent: 'tutoring_agent', change: 'baseagent', stage: 2, idempotencyKey: 'p.w.tutoring_agent.baseagent:baseagent:s2:apply' });
    assert.equal(r.command, '/usr/bin/node');
    assert.deepEqual(r.args, ['dist/simulator/fleetctl.js', '--admin', 'http://127.0.0.1:7900', 'apply-stage', '--agent', 'tutoring_agent', '--change', 'baseagent', '--stage', '2', '--key', 'p.w.tutoring_agent.baseagent:baseagent:s2:apply']);
    assert.equal(r.timeoutMs, 30000);
  });

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an agent of another machine', { action: 'apply-stage', agent: 'ModelManagerAgent', change: 'x', stage: 1 }, /not in the inventory of machine pc2/],
    ['an unknown agent', { action: 'backup', agent: 'ghost', change: 'x', stage: 1 }, /not in the inventory/],
    ['an action outside the catalogue', { action: 'rm-rf', agent: 'tutoring_agent' }, /not in the catalogue of pc2/],
    ['shell metacharacters in the change id', { action: 'apply-stage', agent: 'tutoring_agent', change: 'x;reboot', stage: 1 }, /change id/],
    ['a path trick in the change id', { action: 'apply-stage', agent: 'tutoring_agent', change: '../../etc', stage: 1 }, /change id/],
    ['a stage out of range', { action: 'apply-stage', agent: 'tutoring_agent', change: 'x', stage: 4 }, /stage must be 1, 2 or 3/],
    ['a key with spaces', { action: 'apply-stage', agent: 'tutoring_agent', change: 'x', stage: 1, idempotencyKey: 'a b' }, /idempotency key/],
    ['a missing value the template needs', { action: 'apply-stage', agent: 'tutoring_agent', stage: 1 }, /needs "change"/],
  ];
  for (const [name, req, reason] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => runner.resolve(req as never), (err: Error & { nonRetryable?: boolean }) => {
        assert.match(err.message, reason);
        assert.equal(err.nonRetryable, true, 'a bad request is not retried');
        return true;
      });
    });
  }
});

describe('runCommand', () => {
  it('captures output and the exit code, without a shell', async () => {
    const r = await runCommand(process.execPath, ['-e', 'process.stdout.write("a;b $(x)"); process.exit(3)'], 5000, '/');
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, 'a;b $(x)');
    assert.equal(r.timedOut, false);
  });

  it('kills a command past its timeout and says so', async () => {
    const r = await runCommand(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], 300, '/');
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, null);
    assert.ok(r.durationMs < 5000);
  });

  it('reports a missing executable instead of throwing', async () => {
    const r = await runCommand('/nonexistent/nvidia-smi', [], 1000, '/');
    assert.equal(r.exitCode, null);
    assert.match(r.stderr, /ENOENT/);
  });
});

describe('commands run in their own process group: nothing they start outlives them', () => {
  const alive = liveProcessesMatching;

  it('a wrapper script that hangs on a child of its own: the timeout kills the child too', async () => {
    const r = await runCommand('/bin/sh', ['-c', 'sleep 41.3 & wait'], 300, '/');
    assert.equal(r.ended, 'timed-out');
    assert.equal(r.groupGone, true);
    assert.deepEqual(alive('sleep 41.3'), [], 'the sleep died with its group');
  });

  it('a command that exits leaving a child behind in its group: the child is stopped before the result', async () => {
    const r = await runCommand('/bin/sh', ['-c', 'sleep 41.7 & echo started'], 5000, '/');
    assert.equal(r.ended, 'exited');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'started');
    assert.deepEqual(alive('sleep 41.7'), []);
  });

  it('cancellation stops the whole group (SIGTERM, then SIGKILL for one that ignores it) and says so', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const r = await runCommand('/bin/sh', ['-c', "trap '' TERM; sleep 42.1 & wait"], 10_000, '/', controller.signal);
    assert.equal(r.ended, 'cancelled');
    assert.ok(Date.now() - started < 5000, 'SIGKILL follows a short grace');
    assert.deepEqual(alive('sleep 42.1'), []);
  });

  it('a worker restarted after a crash stops the command groups its previous run left (the ledger)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-ledger-'));
    const file = path.join(dir, 'commands-test.json');
    const orphan = spawn('sleep', ['42.9'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    const stat = readFileSync(`/proc/${orphan.pid}/stat`, 'utf8');
    writeFileSync(file, JSON.stringify([{ pgid: orphan.pid, startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19], command: 'sleep' }]));
    assert.equal(alive('sleep 42.9').length, 1);
    const { reaped } = useCommandLedger(file);
    assert.equal(reaped, 1);
    await new Promise((r) => orphan.once('exit', r));
    assert.deepEqual(alive('sleep 42.9'), []);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), []);
  });
});
