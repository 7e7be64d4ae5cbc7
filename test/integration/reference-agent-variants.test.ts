import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { catalogueSchema } from '../../config/schema/catalogue';
import { freePort } from '../../lib/stack';
import { readGpuMemory } from '../../activities/machine/probes';
import type { Reading } from '../../decisions/triggers';
import { until } from '../support/drills';
import { agentDir } from '../support/reference-fleet';

/**
 * The reference agent's drill variants (examples/agent/make-release.mjs), each a real process
 * started from its release folder as the supervisor would start it, checked by what a drill
 * needs of it: a release that crashes on start exits; a slow one answers slower by its factor;
 * one that fails its integration check is refused by the catalogue's own check; one that leaks
 * GPU memory is seen leaking by phasegate's GPU probe through the fake nvidia-smi.
 */
describe('reference agent drill variants', () => {
  let root = '';
  let hubPort = 0;
  const children: ChildProcess[] = [];
  const host = '127.0.0.1';

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'phasegate-agent-variants-'));
    hubPort = await freePort();
    children.push(spawn(process.execPath, [path.join(agentDir, 'hub.mjs'), '--name', 'Hub', '--host', host, '--port', String(hubPort)], { stdio: 'ignore' }));
  });
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  /** An agent home with one release (a variant), started from `current` like the supervisor's program. */
  async function startAgent(name: string, variantArgs: string[]): Promise<{ child: ChildProcess; port: number; home: string }> {
    const home = path.join(root, name);
    mkdirSync(path.join(home, 'config'), { recursive: true });
    execFileSync(process.execPath, [path.join(agentDir, 'make-release.mjs'), '--home', home, '--version', '2.0.0', ...variantArgs]);
    symlinkSync('releases/2.0.0', path.join(home, 'current'));
    const port = await freePort();
    writeFileSync(path.join(home, 'agent.conf'), `host=${host}\nport=${port}\nhub=http://${host}:${hubPort}\n`);
    const child = spawn(process.execPath, [path.join(home, 'current', 'agent.mjs'), '--name', name, '--home', home, '--host', host, '--port', String(port), '--hub', `http://${host}:${hubPort}`], { stdio: 'ignore' });
    children.push(child);
    return { child, port, home };
  }
  const medianHealthMs = async (port: number, n = 15) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await (await fetch(`http://${host}:${port}/health`)).text();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
  };
  const up = (port: number) => until(`agent on ${port} up`, 10_000, async () => ((await fetch(`http://${host}:${port}/health`)).ok ? true : undefined));

  it('crash-on-start: the process exits with status 3 before it serves anything', async () => {
    const { child } = await startAgent('Crash', ['--variant', 'crash-on-start']);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 3);
  });

  it('slow: health answers take the base delay times the slow factor', async () => {
    const normal = await startAgent('Normal', ['--base-delay-ms', '40']);
    const slow = await startAgent('Slow', ['--variant', 'slow', '--base-delay-ms', '40', '--slow-factor', '1.5']);
    await up(normal.port);
    await up(slow.port);
    const [a, b] = [await medianHealthMs(normal.port), await medianHealthMs(slow.port)];
    console.log(`median health answer: normal ${a.toFixed(1)} ms, slow (x1.5) ${b.toFixed(1)} ms`);
    assert.ok(b - a > 12 && b - a < 40, `the slow release answers about 20 ms later: ${a.toFixed(1)} vs ${b.toFixed(1)} ms`);
  });

  it("fail-integration: the catalogue's integration check (agentctl, through the hub) refuses it; a good release passes", async () => {
    const good = await startAgent('Good', []);
    const failing = await startAgent('Failing', ['--variant', 'fail-integration']);
    await up(good.port);
    await up(failing.port);
    const check = (name: string) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(path.join(agentDir, 'agentctl'), ['--fleet-root', root, '--supervisor-conf', '/nonexistent', 'integration-check', '--agent', name], (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: `${stdout}${stderr}` }),
        ),
      );
    const ok = await until('the good agent registered', 10_000, async () => {
      const r = await check('Good');
      return r.code === 0 ? r : undefined;
    });
    assert.match(ok.out, /registered with its hub as pid \d+, status ok/);
    const refused = await until('the failing agent registered', 10_000, async () => {
      const r = await check('Failing');
      return /status failing/.test(r.out) ? r : undefined;
    });
    assert.equal(refused.code, 1);
  });

  it('gpu-leak: the GPU probe, reading the fake nvidia-smi, sees the agent\'s own processes fill the GPU', async () => {
    const data = path.join(root, 'gpu-data');
    writeFileSync(data, 'gpu GPU-ref-0 1000 16384\n');
    const leaky = await startAgent('Leaky', ['--variant', 'gpu-leak', '--gpu-data-file', data]);
    await up(leaky.port);
    process.env.PHASEGATE_FAKE_GPU_DATA = data;
    const catalogue = catalogueSchema.parse({
      version: 1,
      machine: 'm1',
      actions: Object.fromEntries(['backup', 'apply-stage', 'undo-stage', 'verify-marker', 'integration-check'].map((a) => [a, { command: '/bin/true', timeoutMs: 1000 }])),
      probes: {
        gpu: { command: path.join(agentDir, 'fake-nvidia-smi'), args: ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'], appsArgs: ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'], timeoutMs: 5000 },
      },
    });
    const pid = leaky.child.pid!;
    const pct = (r: Reading) => (r.status === 'measured' ? r.value : Number.NaN);
    const first = await until('the leak on the GPU', 10_000, async () => {
      const r = await readGpuMemory(catalogue, root, [pid]);
      return r.status === 'measured' ? r : undefined;
    });
    await new Promise((r) => setTimeout(r, 3000));
    const later = await readGpuMemory(catalogue, root, [pid]);
    console.log(`GPU-ref-0: ${pct(first).toFixed(1)} % then ${pct(later).toFixed(1)} % (${later.detail})`);
    assert.equal(later.status, 'measured');
    assert.ok(pct(later) > pct(first) + 8, 'about 1,000 MiB (6 %) a second more of a 16,384 MiB GPU');
    assert.match(later.detail ?? '', /GPU GPU-ref-0 \(the agent's\)/);
    // Another agent's pid holds nothing on the GPU: its reading is not the leaker's.
    assert.equal((await readGpuMemory(catalogue, root, [process.pid])).status, 'not-applicable');
    leaky.child.kill('SIGKILL');
    await new Promise((r) => leaky.child.once('exit', r));
    const gone = await readGpuMemory(catalogue, root, null);
    assert.ok(pct(gone) < 7, `a dead process's memory is not listed: ${pct(gone)} %`);
  });
});
