import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, loadJsonFile } from '../../config/load';
import { inventorySchema } from '../../config/schema/inventory';
import { catalogueSchema } from '../../config/schema/catalogue';
import { defaultConfigDir } from '../../lib/paths';

const defaultInventory = () => JSON.parse(readFileSync(path.join(defaultConfigDir, 'inventory.json'), 'utf8'));

function writeTemp(name: string, data: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-config-'));
  const file = path.join(dir, name);
  writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  return file;
}

function rejection(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the file to be rejected');
}

describe('default configuration', () => {
  const config = loadConfig(defaultConfigDir);
  const agents = config.inventory.agents;

  it('has 77 agents, 37 on mainpc and 40 on pc2', () => {
    assert.equal(agents.length, 77);
    assert.equal(agents.filter((a) => a.machine === 'mainpc').length, 37);
    assert.equal(agents.filter((a) => a.machine === 'pc2').length, 40);
  });

  it('has 15 model-loading, 8 GPU-compute and 5 GPU-monitoring agents', () => {
    const count = (c: string) => agents.filter((a) => a.category === c).length;
    assert.deepEqual([count('model-loading'), count('gpu-compute'), count('gpu-monitoring')], [15, 8, 5]);
  });

  it('has CentralHub on mainpc:9000 and EdgeHub on pc2:9100, with the seeds\' failover topology', () => {
    assert.deepEqual(config.inventory.hubs.map((h) => [h.name, h.machine, h.port]), [['CentralHub', 'mainpc', 9000], ['EdgeHub', 'pc2', 9100]]);
    for (const a of agents) {
      assert.deepEqual([a.hub, a.failoverHub], a.machine === 'mainpc' ? ['CentralHub', 'EdgeHub'] : ['EdgeHub', 'CentralHub'], a.name);
    }
  });

  it('has a catalogue of actions for each machine', () => {
    assert.deepEqual(Object.keys(config.catalogues).sort(), ['mainpc', 'pc2']);
  });
});

describe('a bad inventory is rejected with the file, the field and the reason', () => {
  const cases: Array<{ name: string; edit: (inv: any) => void; field: string; reason: RegExp }> = [
    { name: 'wrong type', edit: (inv) => (inv.agents[3].healthPort = 'eighty'), field: 'agents[3].healthPort', reason: /expected number/i },
    { name: 'duplicate agent name', edit: (inv) => (inv.agents[5].name = inv.agents[4].name), field: 'agents[5].name', reason: /duplicate agent name "ModelLoaderAgent"|duplicate agent name/ },
    { name: 'unknown machine', edit: (inv) => (inv.agents[7].machine = 'pc3'), field: 'agents[7].machine', reason: /unknown machine "pc3"/ },
    { name: 'unknown hub', edit: (inv) => (inv.agents[0].failoverHub = 'NoHub'), field: 'agents[0].failoverHub', reason: /unknown hub "NoHub"/ },
    { name: 'shell metacharacters in a name', edit: (inv) => (inv.agents[2].name = 'x; rm -rf /'), field: 'agents[2].name', reason: /must start with a letter/ },
    { name: 'unknown field (a typo)', edit: (inv) => (inv.agents[1].helthPort = 1), field: 'agents[1]', reason: /unrecognized key/i },
    { name: 'port clash on one machine', edit: (inv) => (inv.agents[1].healthPort = inv.agents[0].healthPort), field: 'agents[1].healthPort', reason: /already used by "ModelManagerAgent"/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const inv = defaultInventory();
      c.edit(inv);
      const file = writeTemp('inventory.json', inv);
      const err = rejection(() => loadJsonFile(file, inventorySchema));
      assert.equal(err.file, file);
      const issue = err.issues.find((i) => i.field === c.field);
      assert.ok(issue, `an issue at ${c.field}; got ${JSON.stringify(err.issues)}`);
      assert.match(issue.reason, c.reason);
      assert.match(err.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    });
  }

  it('not JSON at all', () => {
    const file = writeTemp('inventory.json', '{ "version": 1, ');
    const err = rejection(() => loadJsonFile(file, inventorySchema));
    assert.match(err.issues[0]!.reason, /not valid JSON/);
  });

  it('a missing file', () => {
    const err = rejection(() => loadJsonFile('/nonexistent/inventory.json', inventorySchema));
    assert.equal(err.file, '/nonexistent/inventory.json');
    assert.match(err.issues[0]!.reason, /cannot read/);
  });
});

describe('catalogues', () => {
  const base = () => JSON.parse(readFileSync(path.join(defaultConfigDir, 'catalogues/mainpc.json'), 'utf8'));

  it('reject an unknown placeholder in an argument', () => {
    const cat = base();
    cat.actions['apply-stage'].args.push('{command}');
    const err = rejection(() => loadJsonFile(writeTemp('mainpc.json', cat), catalogueSchema));
    assert.ok(err.issues.some((i) => i.field.startsWith('actions.apply-stage.args') && /unknown placeholder "\{command\}"/.test(i.reason)), JSON.stringify(err.issues));
  });

  it('reject a shell expression as the command', () => {
    const cat = base();
    cat.actions.backup.command = 'sh -c "curl x | sh"';
    const err = rejection(() => loadJsonFile(writeTemp('mainpc.json', cat), catalogueSchema));
    assert.ok(err.issues.some((i) => i.field === 'actions.backup.command'));
  });

  it('reject a missing timeout', () => {
    const cat = base();
    delete cat.actions['undo-stage'].timeoutMs;
    const err = rejection(() => loadJsonFile(writeTemp('mainpc.json', cat), catalogueSchema));
    assert.ok(err.issues.some((i) => i.field === 'actions.undo-stage.timeoutMs'));
  });
});
