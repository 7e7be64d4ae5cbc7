import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { GpuMemoryReader } from '../../activities/machine/gpu-reader';
import { appsForMs, findGpuCommandProblem, gpuReadingFor, gpuSharedForMs, newGpuProbeState, parseGpuApps, parseGpuRows, pidsOf, readGpuMemory, readLoad, type GpuProbeState } from '../../activities/machine/probes';
import type { Catalogue } from '../../config/schema/catalogue';
import type { Reading } from '../../decisions/triggers';
import { projectRoot } from '../../lib/paths';
import { until } from '../support/drills';
import { liveProcessesMatching } from '../support/procs';
import { makeTestConfig } from '../support/harness';

describe('the load probe reads what the seeds mean', () => {
  it('the 1-minute load average of the machine, not divided by its cores, and the per-core figure beside it', async () => {
    const before = os.loadavg()[0]!;
    const readings = await readLoad({ kind: 'load-average' });
    const after = os.loadavg()[0]!;
    const load = readings.find((r) => r.metric === 'load');
    const perCore = readings.find((r) => r.metric === 'loadPerCore');
    assert.ok(load?.status === 'measured' && perCore?.status === 'measured', JSON.stringify(readings));
    assert.ok(load.value >= Math.min(before, after) - 0.01 && load.value <= Math.max(before, after) + 0.01, `${load.value} vs os.loadavg ${before}..${after}`);
    assert.ok(Math.abs(perCore.value - load.value / os.cpus().length) < 1e-9);
    assert.match(load.detail ?? '', /1-minute load average \(os\.loadavg\)/);
    assert.match(perCore.detail ?? '', new RegExp(`over ${os.cpus().length} cores`));
  });

  it('a simulator that cannot be reached is no data, for both readings', async () => {
    const readings = await readLoad({ kind: 'simulator', adminUrl: 'http://127.0.0.1:9', machine: 'pc2' });
    assert.deepEqual(readings.map((r) => [r.metric, r.status]), [['load', 'no-data'], ['loadPerCore', 'no-data']]);
  });
});

describe('the catalogue names the load source', () => {
  it('"systeminformation", the old name, still loads, as the 1-minute load average', async () => {
    const { readFileSync } = await import('node:fs');
    const { catalogueSchema } = await import('../../config/schema/catalogue');
    const { projectRoot } = await import('../../lib/paths');
    const raw = JSON.parse(readFileSync(`${projectRoot}/config/defaults/catalogues/mainpc.json`, 'utf8'));
    // The shipped catalogues are the simulated fleet's: its machines' load is the simulator's.
    assert.equal(catalogueSchema.parse(raw).probes.load, 'simulator');
    const { load: _load, ...probes } = raw.probes;
    assert.equal(catalogueSchema.parse({ ...raw, probes }).probes.load, 'load-average', 'a catalogue that says nothing reads the real load average');
    assert.equal(catalogueSchema.parse({ ...raw, probes: { ...raw.probes, load: 'systeminformation' } }).probes.load, 'load-average');
    assert.ok(!catalogueSchema.safeParse({ ...raw, probes: { ...raw.probes, load: 'uptime' } }).success);
  });
});

describe('GPU memory per agent: the GPU its own processes use', () => {
  const gpus = (text: string) => parseGpuRows(text)!;
  const two = gpus('GPU-a, 1000, 24000\nGPU-b, 23500, 24000\n');
  const apps = parseGpuApps('4001, 900, GPU-a\n4002, 23000, GPU-b\n4003, [N/A], GPU-a\n')!;
  const cases: Array<[string, ReturnType<typeof parseGpuRows> & object, ReturnType<typeof parseGpuApps>, number[] | null, Reading['status'], number | null, RegExp]> = [
    ['an agent on the full GPU of two: that GPU counts', two, apps, [4002], 'measured', (23500 / 24000) * 100, /GPU GPU-b \(the agent's\): 97.9 % used; the agent's processes hold 23000 MiB/],
    ['an agent on the quiet GPU of two: the other one does not count', two, apps, [4001], 'measured', (1000 / 24000) * 100, /GPU GPU-a/],
    ['an agent of several processes on both GPUs: the fuller', two, apps, [4001, 4002], 'measured', (23500 / 24000) * 100, /GPU-b/],
    ['an agent that holds no GPU memory: not applicable, with why', two, apps, [5000], 'not-applicable', null, /processes \(5000\) hold no GPU memory/],
    ['its own use [N/A] (no per-process accounting): the GPU still counts, the detail says so', two, apps, [4003], 'measured', (1000 / 24000) * 100, /an unknown amount \(\[N\/A\]\)/],
    ['its GPU reports memory [N/A]: no data', gpus('GPU-a, [N/A], [N/A]\nGPU-b, 100, 24000\n'), apps, [4001], 'no-data', null, /GPU GPU-a reports its memory as unavailable/],
    ['[Not Supported] reads as [N/A]', gpus('GPU-a, [Not Supported], 24000\n'), apps, [4001], 'no-data', null, /unavailable/],
    ['no pid from the agent: machine-wide, labelled', two, apps, null, 'measured', (23500 / 24000) * 100, /^machine-wide: the fullest GPU, GPU-b, .*health endpoint gives no pid/],
    ['process list unreadable: machine-wide, labelled', two, null, [4001], 'measured', (23500 / 24000) * 100, /machine-wide.*process list could not be read/],
    ['machine-wide with one GPU [N/A]: the GPUs that answer', gpus('GPU-a, [N/A], 24000\nGPU-b, 12000, 24000\n'), null, null, 'measured', 50, /GPU-b/],
    ['every GPU [N/A] and no pid: no data', gpus('GPU-a, [N/A], [N/A]\n'), null, null, 'no-data', null, /every GPU reports its memory as unavailable/],
    ['no GPU listed: no data', [], apps, [4001], 'no-data', null, /listed no GPU/],
  ];
  for (const [name, g, a, pids, status, value, detail] of cases) {
    it(name, () => {
      const r = gpuReadingFor(g, a, pids);
      assert.equal(r.status, status, JSON.stringify(r));
      if (value !== null) assert.ok(r.status === 'measured' && Math.abs(r.value - value) < 1e-9, JSON.stringify(r));
      assert.match(r.detail ?? '', detail);
    });
  }

  it('parses the older two-field memory query and refuses what is not CSV', () => {
    assert.deepEqual(parseGpuRows('40960, 81920\n'), [{ id: 'GPU 0', usedMiB: 40960, totalMiB: 81920 }]);
    assert.equal(parseGpuRows('NVIDIA-SMI has failed\n'), null);
    assert.deepEqual(parseGpuApps('No running processes found\n'), []);
    assert.equal(parseGpuApps('garbage\n'), null);
  });

  it('the agent names its processes on its health endpoint (pid, or pids)', () => {
    assert.deepEqual(pidsOf('{"status":"ok","pid":4001}'), [4001]);
    assert.deepEqual(pidsOf('{"pids":[4001,4002],"pid":4001}'), [4001, 4002]);
    assert.deepEqual(pidsOf('{"pid":"4001"}'), []);
    assert.deepEqual(pidsOf('not json'), []);
  });
});

describe('nvidia-smi itself: missing, hung, failing, answering', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-smi-'));
  const script = (name: string, body: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const catalogue = (command: string, timeoutMs = 1000): Catalogue =>
    ({ probes: { gpu: { command, args: ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'], appsArgs: ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'], timeoutMs }, load: 'load-average' } }) as unknown as Catalogue;

  it('two GPUs and the agent on the second: its GPU, from the real probe code', async () => {
    const smi = script('two-gpus', 'case "$1" in --query-compute-apps=*) echo "77, 5000, GPU-b" ;; *) printf "GPU-a, 100, 24000\\nGPU-b, 23000, 24000\\n" ;; esac');
    const r = await readGpuMemory(catalogue(smi), dir, [77]);
    assert.ok(r.status === 'measured' && Math.abs(r.value - (23000 / 24000) * 100) < 1e-9, JSON.stringify(r));
  });

  it('hung: no data once its timeout kills it', async () => {
    const r = await readGpuMemory(catalogue(script('hung', 'sleep 30'), 300), dir, [77]);
    assert.equal(r.status, 'no-data');
    assert.match(r.detail ?? '', /timed out after 300 ms/);
  });

  it('failing driver: no data with its exit code', async () => {
    const r = await readGpuMemory(catalogue(script('failing', 'echo "NVIDIA-SMI has failed" >&2; exit 9')), dir, null);
    assert.equal(r.status, 'no-data');
    assert.match(r.detail ?? '', /exited 9/);
  });

  it('missing at probe time: no data, not "no GPU" (the catalogue says there is one)', async () => {
    const r = await readGpuMemory(catalogue(path.join(dir, 'absent')), dir, null);
    assert.equal(r.status, 'no-data');
    assert.match(r.detail ?? '', /not found/);
  });

  it('a worker whose catalogue asks for GPU probes and finds no nvidia-smi says what to do', () => {
    assert.match(findGpuCommandProblem(catalogue('nvidia-smi'), '/nonexistent-bin') ?? '', /"nvidia-smi" is not on the PATH, but this machine's catalogue asks for GPU probes/);
    assert.equal(findGpuCommandProblem(catalogue('nvidia-smi'), `${dir}:${path.join(projectRoot, 'simulator', 'bin')}`), null);
    assert.equal(findGpuCommandProblem({ probes: { load: 'load-average' } } as unknown as Catalogue, '/nonexistent-bin'), null);
  });
});

describe('without the looping reader, readings on one machine share their nvidia-smi processes', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-smi-shared-'));
  const calls = path.join(dir, 'calls.log');
  const smi = path.join(dir, 'nvidia-smi');
  writeFileSync(smi, `#!/bin/sh\necho "$*" >> '${calls}'\nsleep 0.1\ncase "$*" in\n  *--query-compute-apps=*) printf "1, 100, GPU-a\\n2, 200, GPU-a\\n" ;;\n  *) echo "GPU-a, 500, 1000" ;;\nesac\n`);
  chmodSync(smi, 0o755);
  const catalogue = { probes: { gpu: { command: smi, args: ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'], appsArgs: ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'], timeoutMs: 2000 }, load: 'load-average' } } as unknown as Catalogue;
  const started = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0);

  it('forty agents read at once start one memory query and one process query; a second later, new ones', async () => {
    const state = newGpuProbeState();
    const readings = await Promise.all(Array.from({ length: 40 }, (_, i) => readGpuMemory(catalogue, dir, [(i % 3) + 1], state)));
    assert.equal(started(), 2, readFileSync(calls, 'utf8'));
    // Each agent's own reading from the shared process list: pids 1 and 2 hold memory, 3 none.
    assert.ok(readings.every((r, i) => ((i % 3) + 1 === 3 ? r.status === 'not-applicable' : r.status === 'measured' && r.value === 50)), JSON.stringify(readings.slice(0, 3)));
    await new Promise((r) => setTimeout(r, gpuSharedForMs + 50));
    await readGpuMemory(catalogue, dir, [1], state);
    assert.equal(started(), 4, 'both queries again after the sharing time');
    await readGpuMemory(catalogue, dir, [3], state);
    assert.equal(started(), 4, 'and not again within it');
  });
});

describe('with the looping reader, the process list is kept longer, and asked again for an agent not on it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-smi-apps-'));
  const calls = path.join(dir, 'calls.log');
  const smi = path.join(dir, 'nvidia-smi');
  writeFileSync(smi, `#!/bin/sh\necho "$*" >> '${calls}'\necho "1, 100, GPU-a"\n`);
  chmodSync(smi, 0o755);
  const catalogue = { probes: { gpu: { command: smi, args: ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'], appsArgs: ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'], timeoutMs: 2000, loopMs: 1000 } } } as unknown as Catalogue;
  const started = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0);
  // A reader that always has a fresh line: only the process list is asked of nvidia-smi.
  const reader = { latest: () => ({ rows: [{ id: 'GPU-a', usedMiB: 500, totalMiB: 1000 }] }) };

  it('kept past a second for an agent on it; asked again once for one that is not (a restart), not again within the second', async () => {
    const state = newGpuProbeState(reader);
    assert.equal((await readGpuMemory(catalogue, dir, [1], state)).status, 'measured');
    assert.equal(started(), 1);
    await new Promise((r) => setTimeout(r, gpuSharedForMs + 50));
    await readGpuMemory(catalogue, dir, [1], state);
    assert.equal(started(), 1, 'pid 1 is on the list: kept');
    assert.equal((await readGpuMemory(catalogue, dir, [7], state)).status, 'not-applicable');
    assert.equal(started(), 2, 'pid 7 is not: asked again');
    await readGpuMemory(catalogue, dir, [7], state);
    assert.equal(started(), 2, 'not again within the second');
    assert.ok(appsForMs > gpuSharedForMs);
  });
});

describe('the machine worker refuses to start without the nvidia-smi its catalogue asks for', () => {
  it('exits 1 naming the catalogue file and probes.gpu, before it connects to anything', async () => {
    const test = await makeTestConfig();
    const r = spawnSync(process.execPath, [path.join(projectRoot, 'dist/workers/machine-worker.js'), '--machine', 'mainpc', '--config', test.configDir], {
      env: { ...process.env, PATH: '/nonexistent-bin' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /catalogues\/mainpc\.json: probes\.gpu: "nvidia-smi" is not on the PATH/);
  });
});

describe('the looping nvidia-smi: one process serves every reading (probes.gpu.loopMs)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-smi-loop-'));
  const calls = path.join(dir, 'calls.log');
  const smi = path.join(dir, 'nvidia-smi');
  writeFileSync(
    smi,
    `#!/bin/sh\necho "$*" >> '${calls}'\ncase "$*" in\n  *--query-compute-apps=*) echo "88, 900, GPU-b" ;;\n  *--loop-ms=*) while true; do echo "GPU-a, 100, 1000"; echo "GPU-b, 990, 1000"; sleep 0.2; done ;;\n  *) echo "GPU-a, 100, 1000" ;;\nesac\n`,
  );
  chmodSync(smi, 0o755);
  const spec = { command: smi, args: ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'], appsArgs: ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'], timeoutMs: 1000, loopMs: 200 };
  const catalogue = { probes: { gpu: spec, load: 'load-average' } } as unknown as Catalogue;
  const started = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0);

  it('ten readings start two processes (the loop and one process query), not twenty', async () => {
    const reader = new GpuMemoryReader(spec, dir);
    reader.start();
    try {
      const state: GpuProbeState = { reader, apps: null };
      await until('the loop to print every GPU', 5000, async () => ('rows' in reader.latest() ? true : undefined));
      for (let i = 0; i < 10; i++) {
        const r = await readGpuMemory(catalogue, dir, [88], state);
        assert.ok(r.status === 'measured' && r.value === 99, JSON.stringify(r));
      }
      assert.equal(started(), 2, readFileSync(calls, 'utf8'));
    } finally {
      reader.stop();
    }
  });

  it('stopped, its process group is gone; a reader whose loop died says why and falls back to a process per reading', async () => {
    const marker = `${dir}/nvidia-smi`;
    await until('the looping process to be gone', 5000, async () => (liveProcessesMatching(marker).length === 0 ? true : undefined));
    const broken = new GpuMemoryReader({ ...spec, command: path.join(dir, 'absent') }, dir);
    broken.start();
    await new Promise((r) => setTimeout(r, 300));
    const l = broken.latest();
    assert.ok('stale' in l && /could not start: ENOENT/.test(l.stale), JSON.stringify(l));
    broken.stop();
    const before = started();
    const r = await readGpuMemory(catalogue, dir, null, { reader: broken, apps: null });
    assert.ok(r.status === 'measured' && r.value === 10, JSON.stringify(r));
    assert.equal(started(), before + 1, 'one process for the reading');
  });
});
