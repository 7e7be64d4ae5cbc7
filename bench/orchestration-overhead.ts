import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { planSchema } from '../config/schema/plan';
import { assessRisk } from '../decisions/risk';
import { percentile } from '../decisions/triggers';
import { phaseInput } from '../plan/compile';
import { startTestStack, type TestStack } from '../test/support/harness';
import { phaseWorkflow } from '../workflows/phase';
import { benchMachine, writeBenchJson } from './report';

const run = promisify(execFile);

/**
 * Orchestration overhead: all 77 simulated agents migrated with no-op actions (`true`) and
 * verification windows of zero, at several concurrency limits, on the real dev server. Then,
 * side by side in the same run, the peer: an Ansible playbook (Debian's ansible-core) doing
 * the same rolling update over the same 77 agents in serial batches of the same size, with
 * the same health check (a GET of each agent's health endpoint before and after each stage).
 *
 * node dist/bench/orchestration-overhead.js [concurrency per machine, comma-separated; default 4,8,16]
 */

const noop = { command: 'true', args: [], timeoutMs: 5000 };

interface Round {
  concurrencyPerMachine: number;
  phasegate: { wallMs: number; msPerAgent: number; workflowTasksPerAgent: number; eventsPerAgent: number; eventsByStrategy: Record<string, { migrations: number; p50: number; max: number }> };
  ansible: { wallMs: number; msPerAgent: number; serial: number; forks: number };
  ratio: number;
}

async function phasegateRound(env: TestStack, concurrency: number): Promise<Round['phasegate']> {
  const change = `noop-c${concurrency}`;
  const plan = planSchema.parse({
    version: 1,
    id: `overhead-c${concurrency}`,
    title: `77 no-op migrations, ${concurrency} at once per machine`,
    thresholds: { sampleIntervalMs: 100, degradationMinDeltaMs: 60_000 },
    timings: { baselineSamples: 1, rapidVerificationMs: 0, stageVerificationMs: 0, observationMs: 0 },
    weeks: [
      {
        id: 'week1',
        title: 'every agent',
        steps: [{ id: 'all', migrate: { change, select: { machines: ['mainpc', 'pc2'] }, pilots: 0, batchSize: 77, maxConcurrentPerMachine: concurrency, failureBudget: { perBatch: 77, perWeek: 77, onExceeded: 'pause' } } }],
        gate: { criteria: [] },
      },
    ],
  });
  const input = { ...phaseInput(plan, env.config.inventory), autoApproveGates: { by: 'bench' } };
  const workflowId = `phase.overhead-c${concurrency}`;
  const started = Date.now();
  const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId, args: [input] });
  const result = await handle.result();
  const wallMs = Date.now() - started;
  if (result.outcome !== 'completed') throw new Error(`phase ${workflowId} ended ${result.outcome}`);
  let tasks = 0;
  let events = 0;
  const byStrategy: Record<string, number[]> = {};
  const strategyOf = new Map(env.config.inventory.agents.map((a) => [a.name, assessRisk(a).strategy]));
  for await (const w of env.client.workflow.list()) {
    // The phase, its week and its agents' migrations (`<plan id>.<week>.<agent>.<change>`).
    if (!(w.workflowId.startsWith(workflowId) || w.workflowId.startsWith(`${plan.id}.`))) continue;
    const history = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    const evs = history.events ?? [];
    tasks += evs.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    events += evs.length;
    if (w.type === 'agentMigrationWorkflow') {
      const agent = w.workflowId.split('.')[2]!;
      (byStrategy[strategyOf.get(agent)!] ??= []).push(evs.length);
    }
  }
  const eventsByStrategy = Object.fromEntries(Object.entries(byStrategy).map(([s, xs]) => [s, { migrations: xs.length, p50: percentile(xs, 50), max: Math.max(...xs) }]));
  return { wallMs, msPerAgent: Math.round(wallMs / 77), workflowTasksPerAgent: Math.round((tasks / 77) * 10) / 10, eventsPerAgent: Math.round((events / 77) * 10) / 10, eventsByStrategy };
}

/** The same rolling update as an Ansible playbook: local connection, one host per agent. */
async function ansibleRound(env: TestStack, concurrency: number, dir: string): Promise<Round['ansible']> {
  const hostOf = new Map(env.config.inventory.machines.map((m) => [m.name, m.host]));
  const inventory = [
    '[agents]',
    ...env.config.inventory.agents.map((a) => `${a.name} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 health_url=http://${hostOf.get(a.machine)}:${a.healthPort}/health`),
  ].join('\n');
  // phasegate runs `concurrency` migrations at once on each of the two machines.
  const serial = concurrency * 2;
  const stage = (n: number) => `
    - name: backup before stage ${n}
      ansible.builtin.command: 'true'
      changed_when: false
    - name: apply stage ${n}
      ansible.builtin.command: 'true'
      changed_when: false
    - name: check the marker of stage ${n}
      ansible.builtin.command: 'true'
      changed_when: false
    - name: health after stage ${n}
      ansible.builtin.uri:
        url: "{{ health_url }}"
        status_code: 200
        timeout: 5
    - name: integration check after stage ${n}
      ansible.builtin.command: 'true'
      changed_when: false`;
  const playbook = `- hosts: agents
  gather_facts: false
  serial: ${serial}
  any_errors_fatal: false
  tasks:
    - name: baseline health
      ansible.builtin.uri:
        url: "{{ health_url }}"
        status_code: 200
        timeout: 5
${[1, 2, 3].map(stage).join('\n')}
`;
  writeFileSync(path.join(dir, 'inventory.ini'), `${inventory}\n`);
  writeFileSync(path.join(dir, 'rolling-update.yml'), playbook);
  const started = Date.now();
  await run('ansible-playbook', ['-i', 'inventory.ini', 'rolling-update.yml', '--forks', String(serial)], {
    cwd: dir,
    env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'), ANSIBLE_STDOUT_CALLBACK: 'default', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  const wallMs = Date.now() - started;
  return { wallMs, msPerAgent: Math.round(wallMs / 77), serial, forks: serial };
}

async function main(): Promise<void> {
  const levels = (process.argv[2] ?? '4,8,16').split(',').map(Number);
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-ansible-'));
  const env = await startTestStack({
    edit: ({ catalogues }) => {
      for (const c of Object.values(catalogues)) for (const k of Object.keys(c.actions)) c.actions[k] = noop;
    },
  });
  const rounds: Round[] = [];
  try {
    for (const c of levels) {
      const phasegate = await phasegateRound(env, c);
      const ansible = await ansibleRound(env, c, dir);
      const ratio = Math.round((phasegate.wallMs / ansible.wallMs) * 100) / 100;
      rounds.push({ concurrencyPerMachine: c, phasegate, ansible, ratio });
      process.stdout.write(
        `concurrency ${String(c).padStart(2)} per machine: phasegate ${(phasegate.wallMs / 1000).toFixed(1)} s (${phasegate.msPerAgent} ms/agent, ${phasegate.workflowTasksPerAgent} workflow tasks and ${phasegate.eventsPerAgent} history events per agent); ansible serial ${ansible.serial}: ${(ansible.wallMs / 1000).toFixed(1)} s (${ansible.msPerAgent} ms/agent); phasegate/ansible ${ratio}\n`,
      );
    }
  } finally {
    await env.stop();
  }
  const { stdout: ansibleVersion } = await run('ansible-playbook', ['--version']);
  const report = {
    benchmark: 'orchestration-overhead',
    at: new Date().toISOString(),
    machine: benchMachine(),
    peer: ansibleVersion.split('\n')[0]!.trim(),
    agents: 77,
    rounds,
  };
  const out = writeBenchJson('orchestration-overhead', report);
  process.stdout.write(`written to ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
