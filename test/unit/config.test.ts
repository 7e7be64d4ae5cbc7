import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, loadJsonFile, loadPlan } from '../../config/load';
import { inventorySchema } from '../../config/schema/inventory';
import { catalogueSchema } from '../../config/schema/catalogue';
import { defaultConfigDir } from '../../lib/paths';
import { phaseInput } from '../../plan/compile';

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

describe('plans', () => {
  const config = loadConfig(defaultConfigDir);
  const demo = () => JSON.parse(readFileSync(path.join(defaultConfigDir, 'plans/demo.json'), 'utf8'));

  it('the shipped demo plan loads against the default inventory', () => {
    const plan = loadPlan(path.join(defaultConfigDir, 'plans/demo.json'), config);
    assert.equal(plan.weeks.length, 2);
    assert.equal(plan.thresholds.gpuMemoryPct, 95, 'defaults from docs/domain.md fill what the plan leaves out');
  });

  const broken: Array<[string, (p: any) => void, string, RegExp]> = [
    ['unknown agent', (p) => (p.weeks[1].steps[0].migrate.select.agents = ['ModelManagerAgent', 'NoSuchAgent']), 'weeks[1].steps[0].migrate.select.agents[1]', /unknown agent "NoSuchAgent"/],
    ['unknown machine', (p) => (p.weeks[0].steps[0].migrate.select.machines = ['pc9']), 'weeks[0].steps[0].migrate.select.machines[0]', /unknown machine "pc9"/],
    ['empty week', (p) => (p.weeks[0].steps = []), 'weeks[0].steps', /at least one step/],
    ['negative duration', (p) => (p.timings.observationMs = -5), 'timings.observationMs', /too small|>=0|greater than or equal/i],
    ['absurd duration', (p) => (p.timings.observationMs = 1e12), 'timings.observationMs', /30 days/],
    ['duplicate step id', (p) => (p.weeks[1].steps[0].id = p.weeks[0].steps[0].id), 'weeks[1].steps[0].id', /duplicate id "pc2-low-risk"/],
    ['threshold out of range', (p) => (p.thresholds.gpuMemoryPct = 140), 'thresholds.gpuMemoryPct', /100/],
    ['probes slower than every 5 s', (p) => (p.thresholds.sampleIntervalMs = 10_000), 'thresholds.sampleIntervalMs', /every 5 s or faster/],
    ['a step of two kinds', (p) => (p.weeks[0].steps[0].observe = { durationMs: 1000 }), 'weeks[0].steps[0]', /exactly one kind/],
    ['an operation the machine does not have', (p) => p.weeks[0].steps.push({ id: 'edge', operation: { machine: 'mainpc', name: 'deploy-edgehub' } }), 'weeks[0].steps[1].operation.name', /not an operation of mainpc's catalogue/],
    ['an operation on an unknown machine', (p) => p.weeks[0].steps.push({ id: 'edge', operation: { machine: 'pc3', name: 'deploy-edgehub' } }), 'weeks[0].steps[1].operation.machine', /unknown machine "pc3"/],
  ];
  for (const [name, edit, field, reason] of broken) {
    it(`rejects a plan with ${name}`, () => {
      const plan = demo();
      edit(plan);
      const file = writeTemp('plan.json', plan);
      const err = rejection(() => loadPlan(file, config));
      const issue = err.issues.find((i) => i.field === field);
      assert.ok(issue, `an issue at ${field}; got ${JSON.stringify(err.issues)}`);
      assert.match(issue.reason, reason);
    });
  }
});

describe('shipped plans', () => {
  // The real plans take only signed decisions, so they need someone in the deployment's people
  // to sign them; the default deployment (the local demo's) lists nobody.
  const defaults = loadConfig(defaultConfigDir);
  const config = { ...defaults, deployment: { ...defaults.deployment, people: [{ name: 'alice', publicKey: 'ab'.repeat(32) }] } };
  it('demo.json takes unsigned decisions and passes plan check against the default configuration as it is', () => {
    const plan = loadPlan(path.join(defaultConfigDir, 'plans', 'demo.json'), defaults);
    assert.equal(plan.decisions.unsigned, true);
    assert.equal(phaseInput(plan, defaults.inventory, defaults.deployment).weeks[0]!.gate.deciders, undefined);
  });
  for (const name of ['phase1', 'phase2-strategy', 'phase2-resilience']) {
    it(`${name}.json takes signed decisions only: refused against a deployment that lists nobody to sign, decided by its people otherwise`, () => {
      assert.throws(
        () => loadPlan(path.join(defaultConfigDir, 'plans', `${name}.json`), defaults),
        (err: ConfigError) => err.issues.some((i) => i.field === 'decisions' && /takes only signed decisions .* lists nobody who could sign them/.test(i.reason)),
      );
      const input = phaseInput(loadPlan(path.join(defaultConfigDir, 'plans', `${name}.json`), config), config.inventory, config.deployment);
      assert.ok(input.weeks.every((w) => w.gate.deciders?.map((d) => d.name).join() === 'alice'));
      assert.deepEqual(input.settings.decisions, { unsigned: false, stageApprovers: [{ name: 'alice', publicKey: 'ab'.repeat(32) }] });
    });
  }
  for (const name of ['demo', 'phase1', 'phase2-strategy', 'phase2-resilience']) {
    it(`${name}.json passes plan check against the default inventory and catalogues`, () => {
      const plan = loadPlan(path.join(defaultConfigDir, 'plans', `${name}.json`), config);
      assert.ok(plan.weeks.length >= 2);
    });
  }

  it('Phase 2 resilience: 3 pilots in week 1, the other 37 pc2 agents in week 2, all 37 mainpc agents in week 3, 168 h validation in week 4', () => {
    const input = phaseInput(loadPlan(path.join(defaultConfigDir, 'plans', 'phase2-resilience.json'), config), config.inventory, config.deployment);
    const agentsOf = (w: number) => input.weeks[w]!.steps.flatMap((s) => s.migrate?.agents ?? []);
    assert.equal(agentsOf(0).length, 3);
    assert.equal(agentsOf(1).length, 37);
    assert.ok([...agentsOf(0), ...agentsOf(1)].every((a) => a.machine === 'pc2'));
    assert.equal(new Set([...agentsOf(0), ...agentsOf(1)].map((a) => a.name)).size, 40);
    assert.equal(agentsOf(2).filter((a) => a.machine === 'mainpc').length, 37);
    assert.equal(input.weeks[3]!.steps[0]!.validate?.durationMs, 168 * 3600 * 1000);
    assert.deepEqual(input.weeks[0]!.steps.filter((s) => s.operation).map((s) => `${s.operation!.machine}/${s.operation!.name}`)[0], 'pc2/deploy-edgehub');
  });

  it('Phase 1: ModelManagerAgent and tutoring_agent with the 24-hour observation', () => {
    const plan = loadPlan(path.join(defaultConfigDir, 'plans', 'phase1.json'), config);
    assert.equal(plan.timings.observationMs, 24 * 3600 * 1000);
    const input = phaseInput(plan, config.inventory, config.deployment);
    assert.deepEqual(input.weeks.flatMap((w) => w.steps.flatMap((s) => s.migrate?.agents.map((a) => a.name) ?? [])).sort(), ['ModelManagerAgent', 'tutoring_agent']);
  });
});

describe('connecting to a remote Temporal and NATS: certificate and credential files', () => {
  /** A copy of the default configuration folder whose deployment is replaced by `deployment`. */
  function configWith(deployment: (d: any) => void): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-remote-'));
    cpSync(defaultConfigDir, dir, { recursive: true });
    const d = JSON.parse(readFileSync(path.join(dir, 'deployment.json'), 'utf8'));
    deployment(d);
    writeFileSync(path.join(dir, 'deployment.json'), JSON.stringify(d));
    mkdirSync(path.join(dir, 'secrets'));
    for (const f of ['client.pem', 'client.key', 'ca.pem', 'user.nk']) writeFileSync(path.join(dir, 'secrets', f), 'x');
    return dir;
  }
  const remote = (d: any) => {
    d.temporal = { mode: 'external', address: 'temporal.internal:7233', namespace: 'fleet', tls: { clientCertPath: 'secrets/client.pem', clientKeyPath: 'secrets/client.key', serverRootCaPath: 'secrets/ca.pem' } };
    d.nats = { mode: 'external', servers: ['tls://nats.internal:4222'], nkeySeedPath: 'secrets/user.nk', tls: { caPath: 'secrets/ca.pem' } };
  };

  it('resolves the files relative to the configuration folder', () => {
    const dir = configWith(remote);
    const { deployment } = loadConfig(dir);
    assert.equal(deployment.temporal.mode === 'external' && deployment.temporal.tls?.clientCertPath, path.join(dir, 'secrets/client.pem'));
    assert.equal(deployment.nats.mode === 'external' && deployment.nats.nkeySeedPath, path.join(dir, 'secrets/user.nk'));
    assert.equal(deployment.nats.mode === 'external' && deployment.nats.tls?.caPath, path.join(dir, 'secrets/ca.pem'));
  });

  const cases: Array<{ name: string; edit: (d: any) => void; field: string; reason: RegExp }> = [
    { name: 'a missing client certificate', edit: (d) => (d.temporal.tls.clientCertPath = 'secrets/nope.pem'), field: 'temporal.tls.clientCertPath', reason: /cannot read .*secrets\/nope\.pem: ENOENT/ },
    { name: 'a missing nkey seed', edit: (d) => (d.nats.nkeySeedPath = '/nonexistent/user.nk'), field: 'nats.nkeySeedPath', reason: /cannot read \/nonexistent\/user\.nk: ENOENT/ },
    { name: 'both a credentials file and an nkey', edit: (d) => (d.nats.credentialsPath = 'secrets/user.nk'), field: 'nats', reason: /credentialsPath or nkeySeedPath, not both/ },
    { name: 'a NATS client certificate without its key', edit: (d) => (d.nats.tls.clientCertPath = 'secrets/client.pem'), field: 'nats.tls', reason: /clientCertPath and clientKeyPath go together/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, naming the field`, () => {
      const err = rejection(() => loadConfig(configWith((d) => (remote(d), c.edit(d)))));
      assert.match(err.file, /deployment\.json$/);
      const issue = err.issues.find((i) => i.field === c.field);
      assert.ok(issue, `an issue for ${c.field}: ${JSON.stringify(err.issues)}`);
      assert.match(issue.reason, c.reason);
    });
  }
});
