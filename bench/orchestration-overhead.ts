import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { planSchema } from '../config/schema/plan';
import { assessRisk, type Strategy } from '../decisions/risk';
import { percentile } from '../decisions/triggers';
import { projectRoot } from '../lib/paths';
import { phaseInput } from '../plan/compile';
import { simulatorCurlActions } from '../simulator/generate-fleet';
import { startTestStack, type TestStack } from '../test/support/harness';
import { phaseWorkflow } from '../workflows/phase';
import type { OverheadReport } from './orchestration-report';
import { benchMachine, writeBenchJson } from './report';

const run = promisify(execFile);

/**
 * Orchestration overhead against an Ansible rolling update, the same work on both sides.
 *
 * All 77 simulated agents, verification windows of zero, each side migrating the fleet to its
 * own change id. Both sides run the same catalogue commands for the same agents (a curl call to
 * the simulator per action: simulatorCurlActions), and the same checks per agent, as
 * phasegate's migration steps
 * (decisions/migration-steps.ts) take them for the agent's risk band:
 *
 * - before stage 1: the marker of each of the three stages read back (absent), then one sample;
 * - per stage: backup, apply, marker check (present);
 * - a sample after every stage (staged and framework bands), or after the last (rapid band).
 *
 * A sample is the agent's health GET, the machine's GPU reading (the simulated nvidia-smi: its
 * memory query and its process list), the machine's load (a GET of the simulator) and the
 * integration check. phasegate's samples also time three unchanged agents' health answers (its
 * degradation judge's controls) and share a GPU reading within a second; the playbook asks
 * nvidia-smi every time, as a playbook does.
 *
 * Ansible gets its best settings: the `free` strategy (each host runs ahead on its own, as
 * phasegate's migrations do), pipelining, forks equal to phasegate's total concurrency, no fact
 * gathering, only changed and failed results printed. Afterwards both fleets are checked in
 * the simulator: every agent must carry stages 1, 2 and 3 of its side's change. CPU time is
 * counted per process (utime and stime of each, their waited-for children included) so that
 * each side says what it spent its time on.
 *
 * node dist/bench/orchestration-overhead.js [concurrency per machine, comma-separated; default 4,8,16]
 */

/** One concurrency level's figures, as bench/orchestration-report.ts renders them. */
type Round = OverheadReport['rounds'][number];
type Cpu = Round['phasegate']['cpu'];
type FleetCheck = Round['phasegate']['fleet'];

const clockTicks = 100;

/** CPU seconds of a live process itself, and of the children it has waited for (/proc/<pid>/stat). */
function cpuSeconds(pid: number): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14..17 of stat (utime, stime, cutime, cstime), counted from the state field (3).
    return { self: (Number(f[11]) + Number(f[12])) / clockTicks, children: (Number(f[13]) + Number(f[14])) / clockTicks };
  } catch {
    return { self: 0, children: 0 };
  }
}

/** Each stack process's own CPU, and its commands' (a machine worker's catalogue commands and probes) under "<name>: commands". */
function stackCpu(env: TestStack): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, p] of env.stack.processes) {
    const c = p.child.pid ? cpuSeconds(p.child.pid) : { self: 0, children: 0 };
    out.set(name, c.self);
    if (name.startsWith('worker-')) out.set(`${name}: commands`, c.children);
  }
  return out;
}

function cpuSince(before: Map<string, number>, after: Map<string, number>, extra: Record<string, number> = {}): Cpu {
  const byProcess: Record<string, number> = { ...extra };
  for (const [name, s] of after) byProcess[name] = Math.round((s - (before.get(name) ?? 0)) * 100) / 100;
  const total = Math.round(Object.values(byProcess).reduce((a, b) => a + b, 0) * 100) / 100;
  return { byProcess, total };
}

/** The simulator's own view: which agents carry stages 1, 2 and 3 of the change. */
async function checkFleet(env: TestStack, change: string): Promise<FleetCheck> {
  const agents = (await (await fetch(`${env.simulatorAdmin}/agents`)).json()) as Array<{ name: string; changes: Record<string, number[]> }>;
  const missing = agents.filter((a) => (a.changes[change] ?? []).join(',') !== '1,2,3').map((a) => a.name);
  return { agents: agents.length, migrated: agents.length - missing.length, missing };
}

function planFor(change: string, concurrency: number) {
  return planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: a benchmark of the orchestration, not of signatures
    version: 1,
    id: `overhead-c${concurrency}`,
    title: `77 migrations, ${concurrency} at once per machine`,
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
}

async function phasegateRound(env: TestStack, concurrency: number): Promise<Round['phasegate']> {
  const change = `pg-c${concurrency}`;
  const plan = planFor(change, concurrency);
  const input = { ...phaseInput(plan, env.config.inventory), autoApproveGates: { by: 'bench' } };
  const workflowId = `phase.overhead-c${concurrency}`;
  const cpuBefore = stackCpu(env);
  const started = Date.now();
  const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId, args: [input] });
  const result = await handle.result();
  const wallMs = Date.now() - started;
  const cpu = cpuSince(cpuBefore, stackCpu(env));
  if (result.outcome !== 'completed') throw new Error(`phase ${workflowId} ended ${result.outcome}`);
  let tasks = 0;
  let events = 0;
  const byStrategy: Record<string, number[]> = {};
  const strategyOf = new Map(env.config.inventory.agents.map((a) => [a.name, assessRisk(a).strategy]));
  for await (const w of env.client.workflow.list()) {
    // The phase, its week, its agents' migrations (`<plan id>.<week>.<agent>.<change>`) and their leases.
    const ours = w.workflowId.startsWith(workflowId) || w.workflowId.startsWith(`${plan.id}.`) || (w.type === 'agentLeaseWorkflow' && w.startTime.getTime() >= started);
    if (!ours) continue;
    const history = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    const evs = history.events ?? [];
    tasks += evs.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    events += evs.length;
    if (w.type === 'agentMigrationWorkflow') {
      const agent = w.workflowId.split('.').at(-2)!;
      (byStrategy[strategyOf.get(agent)!] ??= []).push(evs.length);
    }
  }
  const eventsByStrategy = Object.fromEntries(Object.entries(byStrategy).map(([s, xs]) => [s, { migrations: xs.length, p50: percentile(xs, 50), max: Math.max(...xs) }]));
  const fleet = await checkFleet(env, change);
  return { wallMs, msPerAgent: Math.round(wallMs / 77), workflowTasksPerAgent: Math.round((tasks / 77) * 10) / 10, eventsPerAgent: Math.round((events / 77) * 10) / 10, eventsByStrategy, cpu, fleet };
}

/** A catalogue action as an Ansible argv, its placeholders filled for one stage (agent from the host's name). */
function argvOf(env: TestStack, action: string, change: string, stage: number | null): string[] {
  const c = env.config.catalogues.mainpc!;
  const spec = (c.actions as Record<string, { command: string; args: string[] }>)[action]!;
  const fill = (s: string) =>
    s
      .replaceAll('{node}', process.execPath)
      .replaceAll('{simulatorAdmin}', env.simulatorAdmin)
      .replaceAll('{agent}', '{{ inventory_hostname }}')
      .replaceAll('{change}', change)
      .replaceAll('{stage}', String(stage ?? ''))
      .replaceAll('{idempotencyKey}', `ansible-{{ inventory_hostname }}-${change}-s${stage}-${action}`);
  return [fill(spec.command), ...spec.args.map(fill)];
}

/** The same rolling update as an Ansible playbook: local connection, one host per agent. */
async function ansibleRound(env: TestStack, concurrency: number, dir: string): Promise<Round['ansible']> {
  const change = `ansible-c${concurrency}`;
  const hostOf = new Map(env.config.inventory.machines.map((m) => [m.name, m.host]));
  const inventory = [
    '[agents]',
    ...env.config.inventory.agents.map(
      (a) => `${a.name} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 machine=${a.machine} strategy=${assessRisk(a).strategy} health_url=http://${hostOf.get(a.machine)}:${a.healthPort}${a.healthPath}`,
    ),
  ].join('\n');
  const forks = concurrency * 2;
  const yaml = (argv: string[]) => `[${argv.map((a) => JSON.stringify(a)).join(', ')}]`;
  const smi = path.join(projectRoot, 'simulator', 'bin', 'nvidia-smi');
  const gpuArgs = env.config.catalogues.mainpc!.probes.gpu!;
  const command = (name: string, argv: string[], expectRc: number, when?: string) => `
    - name: ${name}
      ansible.builtin.command:
        argv: ${yaml(argv)}
        chdir: "${projectRoot}"
      register: out
      failed_when: out.rc != ${expectRc}
      changed_when: false${when ? `\n      when: ${when}` : ''}`;
  const sample = (what: string, when?: string) => `
    - name: health of the agent, ${what}
      ansible.builtin.uri:
        url: "{{ health_url }}"
        status_code: 200
        timeout: 5${when ? `\n      when: ${when}` : ''}
${command(`GPU memory, ${what}`, [smi, ...gpuArgs.args], 0, when)}
${command(`GPU processes, ${what}`, [smi, ...(gpuArgs.appsArgs ?? [])], 0, when)}
    - name: load of the machine, ${what}
      ansible.builtin.uri:
        url: "${env.simulatorAdmin}/machines/{{ machine }}/load"
        status_code: 200
        timeout: 5${when ? `\n      when: ${when}` : ''}
${command(`integration check, ${what}`, argvOf(env, 'integration-check', change, null), 0, when)}`;
  const stage = (n: number) => `
${command(`backup before stage ${n}`, argvOf(env, 'backup', change, n), 0)}
${command(`apply stage ${n}`, argvOf(env, 'apply-stage', change, n), 0)}
${command(`marker of stage ${n}`, argvOf(env, 'verify-marker', change, n), 0)}
${sample(`after stage ${n}`, n === 3 ? undefined : "strategy != 'rapid'")}`;
  const playbook = `- hosts: agents
  gather_facts: false
  strategy: free
  any_errors_fatal: false
  # What the simulated nvidia-smi reads (workers/machine-worker.ts sets the same for its own).
  environment:
    PHASEGATE_SIMULATOR_ADMIN: "${env.simulatorAdmin}"
    PHASEGATE_MACHINE: "{{ machine }}"
    PHASEGATE_NODE: "${process.execPath}"
  tasks:
${[1, 2, 3].map((n) => command(`marker of stage ${n} absent before stage 1`, argvOf(env, 'verify-marker', change, n), 1)).join('\n')}
${sample('baseline')}
${[1, 2, 3].map(stage).join('\n')}
`;
  writeFileSync(path.join(dir, 'inventory.ini'), `${inventory}\n`);
  writeFileSync(path.join(dir, 'rolling-update.yml'), playbook);
  const simulatorPid = env.stack.processes.get('simulator')?.child.pid;
  const simulatorBefore = simulatorPid ? cpuSeconds(simulatorPid).self : 0;
  const started = Date.now();
  // bash's `times` prints the CPU of the children it waited for: ansible-playbook and all it ran.
  const { stdout } = await run('bash', ['-c', 'ansible-playbook -i inventory.ini rolling-update.yml --forks "$1" >ansible.log 2>&1; s=$?; times; exit $s', 'bench', String(forks)], {
    cwd: dir,
    env: {
      ...process.env,
      PHASEGATE_NODE: process.execPath,
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_DISPLAY_OK_HOSTS: 'False',
      ANSIBLE_DISPLAY_SKIPPED_HOSTS: 'False',
      ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
    },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  const wallMs = Date.now() - started;
  const [user, sys] = (stdout.trim().split('\n').at(-1) ?? '').split(/\s+/).map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
  });
  const cpu: Cpu = {
    byProcess: { 'ansible-playbook and its children': Math.round(((user ?? 0) + (sys ?? 0)) * 100) / 100, simulator: Math.round(((simulatorPid ? cpuSeconds(simulatorPid).self : 0) - simulatorBefore) * 100) / 100 },
    total: 0,
  };
  cpu.total = Math.round(Object.values(cpu.byProcess).reduce((a, b) => a + b, 0) * 100) / 100;
  const fleet = await checkFleet(env, change);
  return { wallMs, msPerAgent: Math.round(wallMs / 77), forks, cpu, fleet };
}

const top = (cpu: Cpu) =>
  Object.entries(cpu.byProcess)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v} s`)
    .join(', ');

async function main(): Promise<void> {
  const levels = (process.argv[2] ?? '4,8,16').split(',').map(Number);
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-ansible-'));
  const curlActions = simulatorCurlActions();
  const env = await startTestStack({
    edit: ({ catalogues }) => {
      // The same commands on both sides: one curl call to the simulator per action
      // (simulator/generate-fleet.ts), not a Node process each, so that the commands do not
      // drown what the orchestrators themselves cost.
      for (const c of Object.values(catalogues)) Object.assign(c.actions, curlActions);
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
        `concurrency ${String(c).padStart(2)} per machine: phasegate ${(phasegate.wallMs / 1000).toFixed(1)} s (${phasegate.msPerAgent} ms/agent, ${phasegate.workflowTasksPerAgent} workflow tasks and ${phasegate.eventsPerAgent} history events per agent; fleet ${phasegate.fleet.migrated}/${phasegate.fleet.agents} migrated; CPU ${phasegate.cpu.total} s: ${top(phasegate.cpu)}); ` +
          `ansible forks ${ansible.forks}: ${(ansible.wallMs / 1000).toFixed(1)} s (${ansible.msPerAgent} ms/agent; fleet ${ansible.fleet.migrated}/${ansible.fleet.agents} migrated; CPU ${ansible.cpu.total} s: ${top(ansible.cpu)}); phasegate/ansible ${ratio}\n`,
      );
      if (phasegate.fleet.missing.length || ansible.fleet.missing.length) throw new Error(`fleet check failed: phasegate left ${phasegate.fleet.missing.join(', ') || 'none'}, Ansible left ${ansible.fleet.missing.join(', ') || 'none'} unmigrated`);
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
    strategies: Object.fromEntries(
      Object.entries(
        env.config.inventory.agents.reduce<Record<string, number>>((m, a) => {
          const s: Strategy = assessRisk(a).strategy;
          m[s] = (m[s] ?? 0) + 1;
          return m;
        }, {}),
      ),
    ),
    rounds,
  };
  const out = writeBenchJson('orchestration-overhead', report);
  process.stdout.write(`written to ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
