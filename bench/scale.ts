import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { loadPlan, type PhasegateConfig } from '../config/load';
import { projectRoot } from '../lib/paths';
import { freeProductionPorts, ProductionStack } from '../lib/production-stack';
import type { Stack } from '../lib/stack';
import { phaseInput } from '../plan/compile';
import { generateFleet, type GeneratedFleet } from '../simulator/generate-fleet';
import { simulatorClient, startTestStack } from '../test/support/harness';
import { phaseWorkflow } from '../workflows/phase';
import { resumeSignal } from '../workflows/lib/steering';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../workflows/week';

/**
 * phasegate at fleet sizes beyond the seeds' 77 agents: a generated fleet (simulator/generate-fleet.ts,
 * one curl call to the simulator per action) on the embedded stack (dev server, nats-server,
 * a machine worker per machine, the simulator) or, with --production, the production-shaped stack
 * (lib/production-stack.ts: Temporal on PostgreSQL, three NATS nodes, each machine its own host in
 * a network namespace when run as root), one phase of pilots and batches, the gate
 * decided "go" (or, with --rollback, "rollback-week", timed against the 5-minute budget of a
 * week rollback). Prints the time per agent, every workflow's largest history, the week's runs,
 * and the peak resident memory of the control worker and of the largest machine worker.
 *
 * With --inject-triggers N, N agents spread over the fleet (none a pilot) fail their integration
 * check once the change is on them (a fault the simulator clears with the undo), so their own
 * triggers roll them back; the bench then checks every agent's outcome against the simulator.
 *
 * node dist/bench/scale.js --agents 1000 --machines 10 [--production [--machine-hosts netns|loopback]] [--concurrency 4] [--rollback] [--new-run-after 5000 --per-round 400] [--max-cached-workflows N] [--control-heap-mb N] [--sticky-queue-timeout-ms N] [--undos-at-once N] [--inject-triggers N] [--agent-heartbeat-ms N]
 */

/** What the bench needs of a stack, embedded or production-shaped. */
interface BenchStack {
  name: string;
  client: Client;
  config: PhasegateConfig;
  processes: Stack['processes'];
  /** Every simulator admin API (one, or one per machine host). */
  simulatorAdmins: string[];
  /** The processes' logs (dataDir/logs/<name>.log). */
  logsDir: string;
  stop(): Promise<void>;
}

type EditDeployment = (deployment: { workers?: Record<string, unknown> }) => void;

async function embeddedStack(fleet: GeneratedFleet, editDeployment: EditDeployment): Promise<BenchStack> {
  const env = await startTestStack({ fleet, edit: ({ deployment }) => editDeployment(deployment) });
  return { name: 'the embedded stack (dev server, one nats-server)', client: env.client, config: env.config, processes: env.stack.processes, simulatorAdmins: [env.simulatorAdmin], logsDir: path.join(env.dataDir, 'logs'), stop: () => env.stop() };
}

async function productionStack(fleet: GeneratedFleet, editDeployment: EditDeployment, machineHosts: 'netns' | 'loopback' | undefined): Promise<BenchStack> {
  const parent = path.join(projectRoot, '.data', 'bench');
  mkdirSync(parent, { recursive: true });
  // Not mkdtemp: its folder is its owner's alone, and PostgreSQL runs as its own user under root.
  const dataDir = path.join(parent, `production-scale-${Date.now()}`);
  mkdirSync(dataDir);
  const ports = await freeProductionPorts(Object.keys(fleet.catalogues));
  const stack = new ProductionStack({ dataDir, ports, fleet, editDeployment, ...(machineHosts ? { machineHosts } : {}) });
  await stack.start();
  const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal.frontend}` });
  return {
    name: `the production-shaped stack (Temporal on PostgreSQL, three NATS nodes, machines ${stack.machineHosts === 'netns' ? 'each its own host in a network namespace' : 'on loopback'})`,
    client: new Client({ connection, namespace: 'default' }),
    config: stack.phasegateConfig,
    processes: stack.processes,
    simulatorAdmins: stack.simulatorAdmins(),
    logsDir: path.join(dataDir, 'logs'),
    async stop() {
      await connection.close().catch(() => undefined);
      await stack.stop();
      if (!process.exitCode) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The control worker's memory report (workers/control-worker.ts) with the largest RSS, in MB. */
function controlWorkerMemoryAtPeak(logFile: string): { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number } | null {
  let best: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number } | null = null;
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"memoryOf"')) continue;
    try {
      const m = JSON.parse(line) as Record<string, number>;
      const mb = (k: string) => Math.round((m[k] ?? 0) / 2 ** 20);
      if (!best || mb('rss') > best.rss) best = { rss: mb('rss'), heapTotal: mb('heapTotal'), heapUsed: mb('heapUsed'), external: mb('external'), arrayBuffers: mb('arrayBuffers') };
    } catch {
      // a line cut short
    }
  }
  return best;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '200' },
      machines: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '4' },
      rollback: { type: 'boolean', default: false },
      production: { type: 'boolean', default: false },
      'machine-hosts': { type: 'string' },
      'new-run-after': { type: 'string' },
      'per-round': { type: 'string' },
      'max-cached-workflows': { type: 'string' },
      'control-heap-mb': { type: 'string' },
      'sticky-queue-timeout-ms': { type: 'string' },
      'undos-at-once': { type: 'string' },
      // The GPU probe as one looping nvidia-smi per machine worker (0: two processes per sample).
      'gpu-loop-ms': { type: 'string', default: '1000' },
      'inject-triggers': { type: 'string', default: '0' },
      // The agents' heartbeat interval (the shipped inventory's 1 s when not given).
      'agent-heartbeat-ms': { type: 'string' },
    },
  });
  const agents = Number(values.agents);
  const machines = Number(values.machines);
  const history = values['new-run-after'] || values['per-round'] ? { newRunAfterEvents: Number(values['new-run-after'] ?? 5000), migrationsPerRound: Number(values['per-round'] ?? 400) } : undefined;
  const undosAtOnce = values['undos-at-once'] ? Number(values['undos-at-once']) : undefined;
  const gpuLoopMs = Number(values['gpu-loop-ms']);
  const agentHeartbeatMs = values['agent-heartbeat-ms'] ? Number(values['agent-heartbeat-ms']) : undefined;
  const pilots = 3;
  const fleet = generateFleet({ agents, machines, actions: 'curl', pilots, maxConcurrentPerMachine: Number(values.concurrency), ...(history ? { history } : {}), ...(undosAtOnce ? { rollbackUndosAtOncePerMachine: undosAtOnce } : {}), ...(gpuLoopMs > 0 ? { gpuLoopMs } : {}), ...(agentHeartbeatMs ? { agentHeartbeatMs } : {}) });
  const triggered = triggeredAgents(fleet, Number(values['inject-triggers']), pilots);
  process.stdout.write(
    `scale: ${agents} agents on ${machines} machines, ${values.concurrency} at once per machine${history ? `, history limits ${JSON.stringify(history)}` : ''}, GPU probe ${gpuLoopMs > 0 ? `one looping nvidia-smi per machine (${gpuLoopMs} ms)` : 'two nvidia-smi processes per sample'}, agents' heartbeats every ${agentHeartbeatMs ?? 1000} ms, ${triggered.length} injected trigger(s)${triggered.length ? ` (${triggered.join(', ')})` : ''}; starting the stack\n`,
  );
  const cache = values['max-cached-workflows'] ? Number(values['max-cached-workflows']) : undefined;
  const heapMb = values['control-heap-mb'] ? Number(values['control-heap-mb']) : undefined;
  const stickyMs = values['sticky-queue-timeout-ms'] ? Number(values['sticky-queue-timeout-ms']) : undefined;
  const machineHosts = values['machine-hosts'];
  if (machineHosts !== undefined && machineHosts !== 'netns' && machineHosts !== 'loopback') throw new Error(`--machine-hosts ${machineHosts}: give netns or loopback`);
  const editDeployment: EditDeployment = (deployment) => {
    deployment.workers = { ...deployment.workers, ...(cache ? { maxCachedWorkflows: cache } : {}), ...(heapMb ? { controlWorkerHeapMb: heapMb } : {}), ...(stickyMs ? { stickyQueueTimeoutMs: stickyMs } : {}) };
  };
  // The control worker reports its memory by kind (workers/control-worker.ts), read from its log at the end.
  process.env.PHASEGATE_MEMORY_REPORT_MS = '5000';
  const env = values.production ? await productionStack(fleet, editDeployment, machineHosts) : await embeddedStack(fleet, editDeployment);
  process.stdout.write(`  on ${env.name}\n`);
  // Stopped with Ctrl-C or a kill (a run longer than the time at hand): stop the stack too,
  // so no server, worker or machine's network namespace is left behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stdout.write(`scale: ${signal}: stopping the stack\n`);
      process.exitCode = 130;
      void env.stop().finally(() => process.exit(130));
    });
  }
  const cpuAtStart = process.cpuUsage();
  const peakRss = new Map<string, number>();
  /** The control worker's memory at its peak, anonymous (heaps: V8's and native) against file-backed (the mapped SDK core library, code). */
  let controlAtPeak = { anonMb: 0, fileMb: 0, at: '' };
  const sampler = setInterval(() => {
    for (const [name, p] of env.processes) {
      if (!p.child.pid || (!name.startsWith('worker-') && !name.startsWith('simulator'))) continue;
      try {
        const status = readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
        const kbOf = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
        const kb = kbOf('VmRSS');
        if (name === 'worker-control' && kb * 1024 > (peakRss.get(name) ?? 0)) controlAtPeak = { anonMb: Math.round(kbOf('RssAnon') / 1024), fileMb: Math.round(kbOf('RssFile') / 1024), at: new Date().toISOString() };
        peakRss.set(name, Math.max(peakRss.get(name) ?? 0, kb * 1024));
      } catch {
        // exited
      }
    }
  }, 1000);
  // CPU seconds of each process of the stack, its own and its reaped children's (the commands
  // a machine worker ran): where the time of a phase of the run went.
  const cpuSeconds = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const [name, p] of env.processes) {
      if (!p.child.pid) continue;
      try {
        const fields = readFileSync(`/proc/${p.child.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
        // utime, stime (the process itself), cutime, cstime (its reaped children: a machine
        // worker's commands and probes): fields 14-17 of stat, 12-15 after the name.
        out.set(name, (Number(fields[11]) + Number(fields[12])) / 100);
        out.set(`${name}: commands`, (Number(fields[13]) + Number(fields[14])) / 100);
      } catch {
        // exited
      }
    }
    return out;
  };
  const cpuBetween = (a: Map<string, number>, b: Map<string, number>): Record<string, number> => {
    const by: Record<string, number> = {};
    for (const [name, v] of b) {
      const machineWorker = name.startsWith('worker-') && !name.startsWith('worker-control');
      const group = machineWorker ? (name.endsWith(': commands') ? "machine workers' commands and probe processes" : 'machine workers') : name;
      by[group] = Math.round(((by[group] ?? 0) + v - (a.get(name) ?? 0)) * 10) / 10;
    }
    return by;
  };
  try {
    const planFile = path.join(env.config.configDir, 'plans', 'scale.json');
    writeFileSync(planFile, JSON.stringify(fleet.plan));
    const plan = loadPlan(planFile, env.config);
    // Dormant until a stage of the change is on the agent, cleared by its undo (simulator/fleet-state.ts).
    for (const agent of triggered) await injectOnItsSimulator(env.simulatorAdmins, agent, { integrationFailing: true, clearOnUndo: true });
    const started = Date.now();
    const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.scale.${started}`, args: [phaseInput(plan, env.config.inventory)] });
    const weekId = `${handle.workflowId}.week1`;
    let week: WeekStatus | null = null;
    let lastPrint = 0;
    let pausedSince: number | null = null;
    const pauses: Array<{ reason: string; pausedMs: number }> = [];
    for (;;) {
      failIfAWorkerDied(env);
      week = await env.client.workflow.getHandle(weekId).query(weekStatusQuery).catch(() => null);
      if (week?.gate.open) break;
      // On two cores with fifty machines a machine worker can miss its heartbeats long enough for
      // the link watch to pause the week (workflows/week/link-watch.ts), as it should; an
      // operator resumes once the link is back. The bench does, and reports each such pause.
      if (week?.state === 'paused') {
        pausedSince ??= Date.now();
        const linkBack = week.links?.state === 'restored' && week.unreachableMachines.every((m) => m === week!.links!.machine);
        if (linkBack && /unreachable|silent/.test(week.pauseReason ?? '')) {
          await env.client.workflow.getHandle(weekId).signal(resumeSignal, { by: 'bench' });
          pauses.push({ reason: week.pauseReason ?? '', pausedMs: Date.now() - pausedSince });
          process.stdout.write(`  ${Math.round((Date.now() - started) / 1000)} s: resumed the week, paused ${Math.round((Date.now() - pausedSince) / 1000)} s (${week.pauseReason})\n`);
          pausedSince = null;
        }
      } else pausedSince = null;
      if (Date.now() - lastPrint > 30_000 && week) {
        lastPrint = Date.now();
        const done = week.agents.filter((a) => a.state !== 'waiting' && a.state !== 'running').length;
        process.stdout.write(`  ${Math.round((Date.now() - started) / 1000)} s: ${done} of ${agents} agents done, week run ${week.history?.runs ?? 1}\n`);
      }
      // Every 5 s, not every second: at 5,000 agents each answer is about 700 KB of status, and
      // the server keeps one query waiting at a time for a week whose task is under way
      // ("consistent query buffer is full"); the gate is seen at most 5 s late.
      await new Promise((r) => setTimeout(r, 5000));
    }
    const atGate = Date.now();
    const cpuAtGate = cpuSeconds();
    const decision = values.rollback ? 'rollback-week' : 'go';
    await env.client.workflow.getHandle(weekId).executeUpdate(decideGateUpdate, { args: [{ gate: week.gate.id, decision, by: 'bench' }] });
    // Polled rather than awaited alone: a worker that died would leave it waiting for ever.
    const watch = setInterval(() => {
      try {
        failIfAWorkerDied(env);
      } catch (err) {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
        void env.stop().finally(() => process.exit(1));
      }
    }, 1000);
    const result = await handle.result().finally(() => clearInterval(watch));
    const ended = Date.now();
    const rollbackCpu = values.rollback ? cpuBetween(cpuAtGate, cpuSeconds()) : null;
    const final = await env.client.workflow.getHandle(weekId).query(weekStatusQuery);
    const byState = final.agents.reduce<Record<string, number>>((m, a) => ((m[a.state] = (m[a.state] ?? 0) + 1), m), {});
    // The fleet as the simulator has it: agents that hold a stage of the phase's change.
    const change = plan.weeks[0]!.steps.find((s) => s.migrate)!.migrate!.change;
    const onMachines = new Map<string, number[]>();
    for (const admin of env.simulatorAdmins) for (const a of await simulatorClient(admin).agents()) onMachines.set(a.name, a.changes[change] ?? []);
    const holding = [...onMachines.values()].filter((stages) => stages.length > 0).length;
    const disagreements = recordAgainstFleet(final.agents, onMachines);
    const triggeredOutcomes = Object.fromEntries(triggered.map((a) => [a, final.agents.find((p) => p.agent === a)?.state ?? 'not in the week']));

    const largestByType = new Map<string, { id: string; events: number }>();
    let weekRuns: number[] = [];
    // Workflow tasks that timed out or failed, by workflow type: each makes the worker replay that
    // history from its start (a week's is the largest), which costs the control worker time and memory.
    const tasksRedone: Record<string, { timedOut: number; failed: number; at: string[] }> = {};
    for await (const w of env.client.workflow.list({ query: `PhasegatePhase="${plan.id}"` })) {
      const history = (await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).events ?? [];
      const events = history.length;
      const redone = history.filter((e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes);
      if (redone.length) {
        const t = (tasksRedone[w.type] ??= { timedOut: 0, failed: 0, at: [] });
        for (const e of redone) {
          if (e.workflowTaskTimedOutEventAttributes) t.timedOut++;
          else t.failed++;
          // When, to set beside the control worker's peak.
          if (t.at.length < 10 && e.eventTime?.seconds) t.at.push(new Date(Number(e.eventTime.seconds) * 1000).toISOString());
        }
      }
      const best = largestByType.get(w.type);
      if (!best || events > best.events) largestByType.set(w.type, { id: w.workflowId, events });
      if (w.workflowId === weekId) weekRuns.push(events);
    }
    weekRuns = weekRuns.reverse();
    const rolloutMs = atGate - started;
    const controlMemory = controlWorkerMemoryAtPeak(path.join(env.logsDir, 'worker-control.log'));
    const figures = {
      at: new Date().toISOString(),
      stack: env.name,
      agents,
      machines,
      concurrencyPerMachine: Number(values.concurrency),
      history: history ?? 'defaults (5000 events, rounds of 400)',
      // As the stack's configuration has them (config/production sets a heap limit of its own).
      controlWorkerMaxCachedWorkflows: env.config.deployment.workers.maxCachedWorkflows ?? 'the SDK default',
      controlWorkerStickyQueueTimeoutMs: env.config.deployment.workers.stickyQueueTimeoutMs ?? 'the SDK default (10 s)',
      controlWorkerHeapMb: env.config.deployment.workers.controlWorkerHeapMb ?? "Node's default",
      gpuProbe: gpuLoopMs > 0 ? `looping nvidia-smi, ${gpuLoopMs} ms` : 'two nvidia-smi processes per sample',
      phaseOutcome: result.outcome,
      agentsByState: byState,
      rolloutMs,
      msPerAgent: Math.round(rolloutMs / agents),
      // Pauses for a machine whose link went silent, resumed by the bench once it was back.
      pauses,
      msPerAgentWithoutPauses: Math.round((rolloutMs - pauses.reduce((t, p) => t + p.pausedMs, 0)) / agents),
      rollback: values.rollback ? { undosAtOncePerMachine: plan.timings.rollbackUndosAtOncePerMachine, ms: ended - atGate, budgetMs: 5 * 60_000, withinBudget: ended - atGate <= 5 * 60_000, undone: byState['undone-with-week'] ?? 0, cpuSeconds: rollbackCpu } : null,
      agentsHoldingTheChangeInSimulator: holding,
      // Agents whose outcome in the week and stages on their machine disagree (none expected).
      disagreements,
      injectedTriggers: triggeredOutcomes,
      // Why each agent that was not migrated ended as it did: its trigger, or the week's detail.
      notMigrated: final.agents.filter((a) => a.state !== 'migrated').map((a) => ({ agent: a.agent, state: a.state, ...(a.trigger ? { trigger: a.trigger } : {}), ...(a.detail ? { detail: a.detail } : {}) })),
      agentHeartbeatMs: agentHeartbeatMs ?? 1000,
      weekRuns,
      largestHistoryByType: Object.fromEntries(largestByType),
      workflowTasksTimedOutOrFailed: tasksRedone,
      peakRssMb: Object.fromEntries([...peakRss].map(([k, v]) => [k, Math.round(v / 2 ** 20)])),
      controlWorkerAtPeak: controlAtPeak,
      // process.memoryUsage() of the control worker at its largest reported RSS (every 5 s), MB.
      controlWorkerMemoryUsageAtPeak: controlMemory,
      // This process: the bench's queries and, with machine hosts in namespaces, the relays that
      // carry every machine's traffic to Temporal and NATS (lib/relay.ts).
      benchProcessCpuSeconds: Math.round(((process.cpuUsage(cpuAtStart).user + process.cpuUsage(cpuAtStart).system) / 1e6) * 10) / 10,
    };
    const rss = figures.peakRssMb as Record<string, number>;
    const machineRss = Object.entries(rss).filter(([k]) => k.startsWith('worker-') && k !== 'worker-control');
    const simulatorRss = Object.entries(rss).filter(([k]) => k.startsWith('simulator'));
    process.stdout.write(
      `scale: ${agents} agents on ${machines} machines: rollout to the gate ${(rolloutMs / 1000).toFixed(1)} s, ${figures.msPerAgent} ms per agent${pauses.length ? ` (${figures.msPerAgentWithoutPauses} ms without the ${pauses.length} pause(s) for a silent link)` : ''}; phase ${result.outcome}; agents ${JSON.stringify(byState)}\n` +
        (figures.rollback ? `  week rollback of ${figures.rollback.undone} agents, ${figures.rollback.undosAtOncePerMachine} undos at once per machine: ${(figures.rollback.ms / 1000).toFixed(1)} s (budget 300 s: ${figures.rollback.withinBudget ? 'met' : 'MISSED'}); CPU seconds meanwhile: ${JSON.stringify(figures.rollback.cpuSeconds)}\n` : '') +
        `  the simulator: ${holding} agents hold a stage of ${change}; outcome and machine disagree for ${disagreements.length} agent(s)${disagreements.length ? `: ${JSON.stringify(disagreements.slice(0, 10))}` : ''}\n` +
        (triggered.length ? `  injected triggers: ${JSON.stringify(triggeredOutcomes)}\n` : '') +
        `  the week ran in ${weekRuns.length} run(s) of ${weekRuns.join(', ')} events; largest history by type: ${[...largestByType].map(([t, v]) => `${t} ${v.events}`).join(', ')}; workflow tasks timed out or failed: ${JSON.stringify(tasksRedone)}\n` +
        `  peak RSS: control worker ${rss['worker-control'] ?? '?'} MB at ${controlAtPeak.at} (anonymous ${controlAtPeak.anonMb} MB, file-backed ${controlAtPeak.fileMb} MB; by Node at its peak: ${controlMemory ? `V8 heap ${controlMemory.heapUsed} of ${controlMemory.heapTotal} MB, external ${controlMemory.external} MB (array buffers ${controlMemory.arrayBuffers} MB), the rest ${controlMemory.rss - controlMemory.heapTotal - controlMemory.external} MB native` : 'not reported'}), largest machine worker ${Math.max(0, ...machineRss.map(([, v]) => v))} MB, ${simulatorRss.length > 1 ? 'largest simulator' : 'simulator'} ${Math.max(0, ...simulatorRss.map(([, v]) => v))} MB; the bench process ${figures.benchProcessCpuSeconds} CPU-s\n`,
    );
    const out = path.join(projectRoot, '.data', 'bench');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, `scale-${agents}x${machines}${values.production ? '-production' : ''}${values.rollback ? '-rollback' : ''}.json`), `${JSON.stringify(figures, null, 2)}\n`);
    process.stdout.write(`JSON ${JSON.stringify(figures)}\n`);
  } finally {
    clearInterval(sampler);
    await env.stop();
  }
}

/** N agents spread evenly over the fleet, past the pilots (the plan's first agents). */
function triggeredAgents(fleet: GeneratedFleet, n: number, pilots: number): string[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`--inject-triggers ${n}: give a whole number of agents, 0 or more`);
  const candidates = fleet.inventory.agents.slice(pilots).map((a) => a.name);
  if (n > candidates.length) throw new Error(`--inject-triggers ${n}: the fleet has ${candidates.length} agents past its pilots`);
  return Array.from({ length: n }, (_, k) => candidates[Math.floor(((k + 0.5) * candidates.length) / n)]!);
}

/** Sets an agent's faults on the simulator that holds it (one per machine host on the production-shaped stack). */
async function injectOnItsSimulator(admins: string[], agent: string, faults: Parameters<ReturnType<typeof simulatorClient>['fault']>[1]): Promise<void> {
  for (const admin of admins) {
    const sim = simulatorClient(admin);
    if ((await sim.agents()).some((a) => a.name === agent)) return void (await sim.fault(agent, faults));
  }
  throw new Error(`--inject-triggers: no simulator holds ${agent}`);
}

/**
 * Neither stack restarts a worker that died (the embedded one by design; the production-shaped
 * one runs its workers as plain children, not under compose's restart policy), so a week whose
 * worker died would never reach its gate: fail at once, with the end of that worker's log.
 */
function failIfAWorkerDied(env: BenchStack): void {
  for (const [name, p] of env.processes) {
    if (!name.startsWith('worker-')) continue;
    if (p.child.exitCode === null && p.child.signalCode === null) continue;
    let tail = '';
    try {
      tail = readFileSync(path.join(env.logsDir, `${name}.log`), 'utf8').trimEnd().split('\n').slice(-5).join('\n');
    } catch {
      tail = '(no log)';
    }
    throw new Error(`scale: ${name} exited (${p.child.exitCode !== null ? `code ${p.child.exitCode}` : p.child.signalCode}); the run cannot finish. The end of its log:\n${tail}`);
  }
}

/**
 * Every agent whose outcome in the week disagrees with the stages its machine holds: migrated
 * holds the change, accepted-as-is or failed holds the stages the week says it left, and every
 * other outcome holds none of it.
 */
function recordAgainstFleet(progress: WeekStatus['agents'], onMachines: Map<string, number[]>): Array<{ agent: string; state: string; stagesOnMachine: number[] }> {
  const out: Array<{ agent: string; state: string; stagesOnMachine: number[] }> = [];
  for (const p of progress) {
    const stages = [...(onMachines.get(p.agent) ?? [])].sort((a, b) => a - b);
    const agrees =
      p.state === 'migrated' ? stages.length > 0
      : p.state === 'accepted-as-is' || p.state === 'failed' ? JSON.stringify(stages) === JSON.stringify([...(p.stagesLeft ?? [])].sort((a, b) => a - b))
      : stages.length === 0;
    if (!agrees) out.push({ agent: p.agent, state: p.state, stagesOnMachine: stages });
  }
  return out;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
