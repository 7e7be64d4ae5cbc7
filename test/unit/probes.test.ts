import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { readLoad } from '../../activities/machine/probes';

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
    assert.equal(catalogueSchema.parse(raw).probes.load, 'load-average');
    assert.equal(catalogueSchema.parse({ ...raw, probes: { ...raw.probes, load: 'systeminformation' } }).probes.load, 'load-average');
    assert.ok(!catalogueSchema.safeParse({ ...raw, probes: { ...raw.probes, load: 'uptime' } }).success);
  });
});
