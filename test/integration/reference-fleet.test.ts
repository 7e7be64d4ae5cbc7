import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inventorySchema } from '../../config/schema/inventory';
import { projectRoot } from '../../lib/paths';
import type { DoctorReport } from '../../cli/doctor';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { until } from '../support/drills';
import { makeTestConfig, startTestStack, type TestStack } from '../support/harness';
import { createMachineLink, relayToLoopback, type MachineLink } from '../../lib/netns';
import type { Relay } from '../../lib/relay';
import { prepareChange, referenceFleet, type ReferenceAgent, type ReferenceFleet } from '../support/reference-fleet';

/**
 * A phase over real processes (issue 18): ten reference agents (examples/agent/agent.mjs) on two
 * machines, each machine's agents and hub under their own supervisord, migrated by the
 * supervisor catalogue (examples/agent/agentctl: backups, `current` links, config files,
 * `supervisorctl restart`). One agent's new release crashes on start; it is rolled back and
 * really runs the old release afterwards (its own report, a new process id, the `current` link).
 * Then the gate rolls the week back and every agent is on the old release again. What each
 * agent's agentctl journal records is compared with what phasegate reports.
 */
const change = 'release-1.1.0';
const agents: ReferenceAgent[] = [
  ...[1, 2, 3, 4, 5].map((i) => ({ name: `RefAgentA${i}`, machine: 'mainpc', port: 19_600 + i, band: 'low' as const })),
  ...[1, 2, 3, 4].map((i) => ({ name: `RefAgentB${i}`, machine: 'pc2', port: 19_700 + i, band: 'low' as const })),
  // Medium band (a staged migration) and so never among the pilots: its release crashes on start.
  { name: 'RefAgentB5', machine: 'pc2', port: 19_705, band: 'medium' },
];
const bad = 'RefAgentB5';

/** The phasegate CLI as an operator runs it: exit code and output. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliOn([], ...args);
}
/** The CLI run on a machine's host (a command prefix such as `ip netns exec NS`). */
function cliOn(prefix: string[], ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...rest] = [...prefix, process.execPath, path.join(projectRoot, 'dist/cli/main.js'), ...args];
  return new Promise((resolve) => {
    execFile(command!, rest, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('a phase over real agent processes under supervisor, pc2 in its own network namespace', () => {
  let env: TestStack;
  let fleet: ReferenceFleet;
  let link: MachineLink;
  let relay: Relay | undefined;
  let pc2ConfigDir = '';

  before(async () => {
    // pc2 is its own host, as in the partition drill: its supervisord, agents, hub and worker
    // run in a network namespace and reach Temporal and NATS over the link (NATS on the link's
    // host end, Temporal through a relay there, the dev server dialling itself on 127.0.0.1).
    link = createMachineLink();
    fleet = referenceFleet(agents, { prefixes: { pc2: link.prefix } });
    const cfg = await makeTestConfig({
      fleet: fleet.fleet,
      edit: ({ deployment, inventory }) => {
        deployment.simulator = { ...deployment.simulator, enabled: false };
        deployment.nats.host = link.hostAddress;
        fleet.install(Object.fromEntries((inventory.machines as Array<{ name: string; host: string }>).map((m) => [m.name, m.host])));
      },
    });
    pc2ConfigDir = `${cfg.configDir}-pc2`;
    cpSync(cfg.configDir, pc2ConfigDir, { recursive: true });
    const deploymentFile = path.join(pc2ConfigDir, 'deployment.json');
    writeFileSync(deploymentFile, JSON.stringify({ ...JSON.parse(readFileSync(deploymentFile, 'utf8')), temporal: { ...JSON.parse(readFileSync(deploymentFile, 'utf8')).temporal, host: link.hostAddress } }, null, 2));
    env = await startTestStack({ config: cfg, startWorkers: false });
    relay = await relayToLoopback(link.hostAddress, cfg.ports.temporal);
    await Promise.all([env.stack.startControlWorker(), env.stack.startMachineWorker('mainpc'), env.stack.startMachineWorker('pc2', { prefix: link.prefix, configDir: pc2ConfigDir })]);
    await fleet.start();
    for (const a of agents) prepareChange(fleet, a.name, change, '1.1.0', a.name === bad ? 'crash-on-start' : undefined);
  });
  after(async () => {
    await env?.stop();
    await fleet?.stop();
    await relay?.close();
    link?.destroy();
    if (!process.exitCode && pc2ConfigDir) rmSync(pc2ConfigDir, { recursive: true, force: true });
  });

  it('pc2 is its own host: its agents answer inside its namespace only', async () => {
    const b1 = agents.find((a) => a.machine === 'pc2')!;
    const host = env.config.inventory.machines.find((m) => m.name === 'pc2')!.host;
    assert.equal((await fleet.report(b1.name)).release, '1.0.0', 'answers on its own host');
    await assert.rejects(fetch(`http://${host}:${b1.port}/report`, { signal: AbortSignal.timeout(2000) }), 'nothing listens there from mainpc');
  });

  const printTable = (title: string, rows: Array<{ agent: string; release: string; pid: number; current: string }>) => {
    console.log(`${title}\n${rows.map((r) => `  ${r.agent.padEnd(11)} release ${r.release.padEnd(6)} pid ${String(r.pid).padEnd(7)} current -> ${r.current}`).join('\n')}`);
  };
  const snapshot = async () =>
    Promise.all(
      agents.map(async (a) => {
        const r = await fleet.report(a.name);
        return { agent: a.name, release: r.release, pid: r.pid, configs: r.configs, current: fleet.currentRelease(a.name) };
      }),
    );

  it('migrates the good agents, rolls back the bad release onto a new process of the old one, and a week rollback puts every agent back', async () => {
    const before = await snapshot();
    printTable('before the phase:', before);
    assert.ok(before.every((s) => s.release === '1.0.0' && s.current === '1.0.0'));

    const plan = planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id: 'reference-fleet',
      title: 'release 1.1.0 of the reference agents',
      thresholds: { sampleIntervalMs: 250, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 2, rapidVerificationMs: 1500, stageVerificationMs: 1500, observationMs: 0, actionAttempts: 2, actionRetryMaxIntervalMs: 300 },
      weeks: [
        {
          id: 'week1',
          title: 'two pilots, then the rest in one batch',
          steps: [{ id: 'release', migrate: { change, select: { machines: ['mainpc', 'pc2'] }, pilots: 2, batchSize: 8, maxConcurrentPerMachine: 2, failureBudget: { perBatch: 1, perWeek: 1, onExceeded: 'pause' } } }],
          gate: { criteria: [{ kind: 'max-rollbacks', count: 1 }] },
        },
      ],
    });
    const input = phaseInput(plan, env.config.inventory);
    const phase = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: 'phase.reference-fleet.test', args: [input] });
    const week = env.client.workflow.getHandle(weekWorkflowId(phase.workflowId, 'week1'));
    const atGate = await until('the week at its gate', 240_000, async () => {
      const s = (await week.query(weekStatusQuery)) as WeekStatus;
      return s.gate.open ? s : undefined;
    });

    // What phasegate reports: the bad release rolled back, every other agent migrated, pilots first.
    const stateOf = (name: string) => atGate.agents.find((a) => a.agent === name)?.state;
    assert.equal(stateOf(bad), 'rolled-back');
    for (const a of agents.filter((x) => x.name !== bad)) assert.equal(stateOf(a.name), 'migrated', a.name);

    // What the machines say: the agent's own report, its process and the `current` link.
    const mid = await snapshot();
    printTable('at the gate (after the batch):', mid);
    const badBefore = before.find((s) => s.agent === bad)!;
    const badNow = mid.find((s) => s.agent === bad)!;
    assert.equal(badNow.release, '1.0.0', 'the rolled-back agent runs the old release');
    assert.equal(badNow.current, '1.0.0');
    assert.notEqual(badNow.pid, badBefore.pid, 'a new process: the undo restarted it on the old release');
    assert.deepEqual(badNow.configs, []);
    assert.deepEqual(fleet.appliedStages(bad, change), []);
    const badJournal = fleet.journal(bad).filter((j) => j.change === change);
    assert.ok(badJournal.some((j) => j.action === 'apply-stage' && j.outcome.startsWith('restart-failed')), `the new release failed to start: ${JSON.stringify(badJournal)}`);
    for (const s of mid.filter((x) => x.agent !== bad)) {
      assert.equal(s.release, '1.1.0', s.agent);
      assert.equal(s.current, '1.1.0', s.agent);
      assert.deepEqual(s.configs, [`${change}.stage-2`, `${change}.stage-3`], s.agent);
      assert.notEqual(s.pid, before.find((b) => b.agent === s.agent)!.pid, `${s.agent} restarted`);
      assert.deepEqual(fleet.appliedStages(s.agent, change), [1, 2, 3], s.agent);
    }

    // The gate rolls the week back: every agent ends on the old release, with nothing of the change.
    await week.executeUpdate(decideGateUpdate, { args: [{ gate: atGate.gate.id, decision: 'rollback-week', by: 'alice', reason: 'reference fleet drill' }] });
    const result = await phase.result();
    assert.equal(result.outcome, 'stopped');
    const rolled = (await week.query(weekStatusQuery)) as WeekStatus;
    assert.equal(rolled.outcome, 'rolled-back');
    assert.deepEqual(rolled.applied, []);
    const after = await snapshot();
    printTable('after the week rollback:', after);
    for (const s of after) {
      assert.equal(s.release, '1.0.0', s.agent);
      assert.equal(s.current, '1.0.0', s.agent);
      assert.deepEqual(s.configs, [], s.agent);
      assert.deepEqual(fleet.appliedStages(s.agent, change), [], s.agent);
    }

    // The crash suite's record check on the machines' own journals: per stage, applied and
    // undone alternate (nothing applied twice, nothing undone that was not applied), and every
    // stage ends undone; a repeated key did nothing.
    let actions = 0;
    for (const a of agents) {
      const j = fleet.journal(a.name).filter((x) => x.change === change);
      actions += j.length;
      for (const stage of ['1', '2', '3']) {
        const seq = j.filter((x) => x.stage === stage && (x.outcome === 'applied' || x.outcome === 'undone')).map((x) => x.outcome);
        seq.forEach((o, i) => assert.equal(o, i % 2 === 0 ? 'applied' : 'undone', `${a.name} stage ${stage}: ${seq.join(', ')}`));
        assert.equal(seq.length % 2, 0, `${a.name} stage ${stage} ends undone: ${seq.join(', ')}`);
      }
      const applied = j.filter((x) => x.action === 'apply-stage' && x.outcome === 'applied');
      assert.equal(new Set(applied.map((x) => x.key)).size, applied.length, `${a.name}: one key applied once`);
    }
    console.log(`agentctl journals: ${actions} actions on ${agents.length} agents, record and machines agree`);
  });

  it('phasegate doctor on each machine: ready (exit 0); a broken machine gets each problem named with its fix (exit 1); unreachable services exit 3; a bad configuration exits 2', async () => {
    // Each machine checked on its own host, with its own configuration, as a provisioning script would.
    for (const [machine, prefix, configDir] of [['mainpc', [], env.config.configDir], ['pc2', link.prefix, pc2ConfigDir]] as const) {
      const good = await cliOn([...prefix], 'doctor', '--json', '--machine', machine, '--config', configDir);
      const report = JSON.parse(good.stdout) as DoctorReport;
      assert.equal(good.code, 0, good.stdout);
      assert.ok(report.ok);
      assert.equal(report.checks.filter((c) => c.check === 'health' && c.ok).length, agents.filter((a) => a.machine === machine).length, `every ${machine} agent answered`);
      assert.equal(report.checks.filter((c) => c.check === 'command' && c.ok).length, 5, 'five actions');
      assert.deepEqual(report.checks.filter((c) => c.check === 'temporal' || c.check === 'nats').map((c) => [c.check, c.ok]), [['temporal', true], ['nats', true]]);
    }

    // Broken: a catalogue command that is not there, GPU probes without nvidia-smi, an agent stopped, NATS on a wrong port.
    const broken = path.join(env.dataDir, 'config-broken');
    cpSync(env.config.configDir, broken, { recursive: true });
    const edit = (file: string, change: (j: any) => void) => {
      const j = JSON.parse(readFileSync(path.join(broken, file), 'utf8'));
      change(j);
      writeFileSync(path.join(broken, file), JSON.stringify(j));
    };
    edit('catalogues/mainpc.json', (c) => {
      c.actions['apply-stage'].command = '/opt/missing/agentctl';
      c.probes.gpu = { command: '/opt/missing/nvidia-smi', args: ['--query-gpu=uuid,memory.used,memory.total', '--format=csv,noheader,nounits'], timeoutMs: 2000 };
    });
    edit('deployment.json', (d) => (d.nats.port = 1));
    execFile('supervisorctl', ['-c', fleet.supervisorConf('mainpc'), 'stop', 'RefAgentA1']);
    await until('RefAgentA1 stopped', 15_000, async () => ((await fleet.report('RefAgentA1').catch(() => null)) ? undefined : true));
    const sick = await cli('doctor', '--machine', 'mainpc', '--config', broken);
    console.log(sick.stdout);
    assert.equal(sick.code, 1, sick.stdout);
    assert.match(sick.stdout, /FAIL command\s+mainpc actions\.apply-stage: program \/opt\/missing\/agentctl does not exist\n\s+fix: install it, or correct actions\.apply-stage in the catalogue of mainpc/);
    assert.match(sick.stdout, /FAIL nvidia-smi\s+mainpc: probes\.gpu: "\/opt\/missing\/nvidia-smi" is not an executable file/);
    assert.match(sick.stdout, /FAIL health\s+RefAgentA1: http:\/\/[\d.]+:19601\/health: ECONNREFUSED/);
    assert.match(sick.stdout, /FAIL nats\s+nats:\/\/[\d.]+:1:/);
    assert.match(sick.stdout, /4 problems: not ready: fix this machine \(exit 1\)/);
    const json = JSON.parse((await cli('doctor', '--json', '--machine', 'mainpc', '--config', broken)).stdout) as DoctorReport;
    assert.deepEqual(json.checks.filter((c) => !c.ok).map((c) => c.check).sort(), ['command', 'health', 'nats', 'nvidia-smi']);
    execFile('supervisorctl', ['-c', fleet.supervisorConf('mainpc'), 'start', 'RefAgentA1']);
    await until('RefAgentA1 back', 15_000, async () => ((await fleet.report('RefAgentA1').catch(() => null)) ? true : undefined));

    // The machine fixed, NATS still unreachable: exit 3, try again later.
    edit('catalogues/mainpc.json', (c) => {
      c.actions['apply-stage'].command = c.actions.backup.command;
      delete c.probes.gpu;
    });
    assert.equal((await cli('doctor', '--machine', 'mainpc', '--config', broken)).code, 3);

    // A configuration that does not load: exit 2, the file and field named.
    edit('inventory.json', (i) => (i.agents[0].healthPort = 'twenty'));
    const bad = await cli('doctor', '--json', '--config', broken);
    assert.equal(bad.code, 2);
    const issue = (JSON.parse(bad.stdout) as DoctorReport).checks[0]!;
    assert.equal(issue.check, 'configuration');
    assert.match(issue.target, /inventory\.json$/);
    assert.match(issue.detail, /^agents\[0\]\.healthPort: /);
  });

  it('phasegate inventory writes a starting inventory from a supervisord.conf and from health URLs, refused until each FILL-IN is rated', async () => {
    const out = path.join(env.dataDir, 'inventory-mainpc.json');
    const fromConf = await cli('inventory', 'from-supervisor', fleet.supervisorConf('mainpc'), '--machine', 'mainpc', '--host', '10.0.0.5', '--out', out);
    assert.equal(fromConf.code, 0, fromConf.stderr);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(written.machines, [{ name: 'mainpc', host: '10.0.0.5' }]);
    assert.deepEqual(
      written.agents.map((a: { name: string; healthPort: number; version: string }) => [a.name, a.healthPort, a.version]),
      [['Hub-mainpc', 19500, 'FILL-IN: the running version'], ...agents.filter((a) => a.machine === 'mainpc').map((a) => [a.name, a.port, '1.0.0'])],
      'names and ports from the programs, the release from each current link (the hub has none)',
    );
    // Every program with a port is listed; the person removes what is not an agent (here the hub).
    written.agents = written.agents.filter((a: { name: string }) => a.name !== 'Hub-mainpc');
    const pc2 = agents.filter((a) => a.machine === 'pc2');
    const host = env.config.inventory.machines.find((m) => m.name === 'pc2')!.host;
    // On pc2's own host, where its agents answer.
    const fromUrls = await cliOn(link.prefix, 'inventory', 'from-urls', ...pc2.map((a) => `http://${host}:${a.port}/health`), '--machine', 'pc2');
    assert.equal(fromUrls.code, 0, fromUrls.stderr);
    const asked = JSON.parse(fromUrls.stdout);
    assert.deepEqual(asked.agents.map((a: { name: string; version: string }) => [a.name, a.version]), pc2.map((a) => [a.name, '1.0.0']), 'each agent named by its own health answer, with its release');
    assert.deepEqual(asked.machines, [{ name: 'pc2', host }]);

    // Refused field by field until rated; rated, it is an inventory.
    const refused = inventorySchema.safeParse(written);
    assert.ok(!refused.success);
    const fields = new Set(refused.error.issues.map((i) => String(i.path.at(-1))));
    assert.deepEqual([...fields].sort(), ['category', 'databases', 'failoverHub', 'fileSize', 'gpu', 'hub', 'role', 'threading']);
    const rated = JSON.parse(JSON.stringify(written).replace(/"FILL-IN: low\|medium\|high"/g, '"low"').replace(/"FILL-IN: hub name[^"]*"/g, '"Hub-mainpc"').replace(/"FILL-IN: model-loading[^"]*"/g, '"utility"'));
    rated.hubs = [{ name: 'Hub-mainpc', machine: 'mainpc', port: 19500 }];
    assert.ok(inventorySchema.safeParse(rated).success);
    assert.equal((await cli('inventory', 'from-supervisor', fleet.supervisorConf('mainpc'), '--machine', 'mainpc', '--host', '10.0.0.5', '--out', out)).code, 1, 'never overwrites a file');
  });
});
