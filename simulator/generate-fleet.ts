import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfigDir } from '../lib/paths';
import { prng } from '../lib/prng';

/**
 * A simulated fleet of any size: an inventory of N agents on M machines, a catalogue per
 * machine, and a plan that migrates all of them (pilots, batches, a gate), for scale tests and
 * benchmarks (the shipped configuration is the seeds' 77 agents on two machines). The machines'
 * catalogues are the shipped simulated one (config/defaults/catalogues/mainpc.json) with the
 * machine's name; with `actions: 'curl'` every action is one curl call to the simulator
 * instead of a Node process (simulatorCurlActions), so that a laptop can run thousands of
 * migrations.
 *
 * Agents are named Agent00001.., machines m01..; risk factors are drawn from a seeded generator
 * so that most agents are low-band (rapid) and some medium (staged); none is high or critical
 * (those wait for observations and approvals, which a scale run does not measure).
 *
 * node dist/simulator/generate-fleet.js --agents 5000 --machines 50 --out DIR [--seed N] [--curl]
 * writes DIR/{deployment,inventory}.json, DIR/catalogues/<machine>.json and DIR/plans/scale.json.
 */

export interface FleetShape {
  agents: number;
  machines: number;
  seed?: number;
  actions?: 'fleetctl' | 'curl';
  /** The plan: agents per batch after the pilots, pilots, migrations at once per machine. */
  batchSize?: number;
  pilots?: number;
  maxConcurrentPerMachine?: number;
  /** The plan's history limits (config/schema/plan.ts), when not the defaults. */
  history?: { newRunAfterEvents: number; migrationsPerRound: number };
  /** The plan's rollback undos at once per machine (config/schema/plan.ts), when not the default. */
  rollbackUndosAtOncePerMachine?: number;
  /**
   * The catalogues' GPU probe as one looping nvidia-smi per machine worker (probes.gpu.loopMs)
   * instead of two processes per sample: fifty simulated machines share this machine's cores,
   * and even at one curl per query (simulator/bin/nvidia-smi) two a second on each add up.
   */
  gpuLoopMs?: number;
  /**
   * How often each agent sends its heartbeat (inventory heartbeats.agentIntervalMs), when not
   * the shipped inventory's 1 s: 5,000 agents at 1 s are 5,000 messages a second into a stream
   * kept at three replicas and synced on every write, more than fifty simulators and three NATS
   * nodes sharing two cores can carry beside the rollout (bench/RESULTS.md, 5,000 agents).
   */
  agentHeartbeatMs?: number;
}

export interface GeneratedFleet {
  inventory: Record<string, unknown> & { machines: Array<{ name: string; host: string }>; agents: Array<Record<string, unknown> & { name: string; machine: string }> };
  catalogues: Record<string, Record<string, unknown>>;
  plan: Record<string, unknown>;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function generateFleet(shape: FleetShape): GeneratedFleet {
  if (!Number.isInteger(shape.agents) || shape.agents < 1) throw new Error(`--agents ${shape.agents}: give a whole number of agents, at least 1`);
  if (!Number.isInteger(shape.machines) || shape.machines < 1 || shape.machines > 250) throw new Error(`--machines ${shape.machines}: give a whole number of machines, 1 to 250 (each is a loopback address)`);
  const r = prng(shape.seed ?? 1);
  const machineNames = Array.from({ length: shape.machines }, (_, i) => `m${pad(i + 1, 2)}`);
  // Machines on 127.1.0.x, never 127.0.0.1: the stacks' own listeners are there, on ports drawn at
  // random (lib/stack.ts freePort, 10000 up to the ephemeral range), and the agents' health ports
  // (20000 and up) would meet one of them about one 5,000-agent start in four ("already taken").
  const machines = machineNames.map((name, i) => ({ name, host: `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, description: `generated machine ${i + 1} of ${shape.machines}` }));
  // Ports below the pushgateways' 9091 and the metrics ports (9464 and up), so none meets another on a machine.
  const hubs = machineNames.map((m, i) => ({ name: `Hub-${m}`, machine: m, port: 8000 + i }));
  const perMachine = new Map<string, number>();
  const agents = Array.from({ length: shape.agents }, (_, i) => {
    const machine = machineNames[i % shape.machines]!;
    const slot = perMachine.get(machine) ?? 0;
    perMachine.set(machine, slot + 1);
    const next = machineNames[(i + 1) % shape.machines]!;
    // About one agent in five is medium-band (staged); the rest low-band (rapid).
    const medium = r() < 0.2;
    return {
      name: `Agent${pad(i + 1, 5)}`,
      machine,
      category: ['core', 'memory', 'communication', 'utility'][i % 4],
      healthPort: 20_000 + slot,
      healthPath: '/health',
      hub: `Hub-${machine}`,
      failoverHub: `Hub-${next}`,
      version: '1.0.0',
      source: { path: `agents/agent_${pad(i + 1, 5)}.py`, sizeKb: 10 + Math.floor(r() * 40) },
      risk: medium ? { gpu: 'medium', threading: 'medium', databases: 'low', role: 'low' } : { gpu: 'low', threading: 'low', databases: 'low', role: 'low' },
    };
  });
  const base = JSON.parse(readFileSync(path.join(defaultConfigDir, 'inventory.json'), 'utf8')) as Record<string, unknown>;
  const inventory = {
    version: 1,
    machines,
    hubs,
    pushgateways: machineNames.map((m) => ({ machine: m, port: 9091 })),
    heartbeats: shape.agentHeartbeatMs ? { ...(base.heartbeats as Record<string, unknown>), agentIntervalMs: shape.agentHeartbeatMs } : base.heartbeats,
    natsServers: machineNames.map((m, i) => ({ name: `NATS-${m}`, machine: m, port: 4222 + i })),
    agents,
  };

  const template = JSON.parse(readFileSync(path.join(defaultConfigDir, 'catalogues', 'mainpc.json'), 'utf8')) as { actions: Record<string, CatalogueCommandSpec>; probes: { gpu?: Record<string, unknown> } & Record<string, unknown> };
  const probes = shape.gpuLoopMs && template.probes.gpu ? { ...template.probes, gpu: { ...template.probes.gpu, loopMs: shape.gpuLoopMs } } : template.probes;
  const curlActions = shape.actions === 'curl' ? simulatorCurlActions() : null;
  const catalogues: GeneratedFleet['catalogues'] = {};
  for (const m of machineNames) {
    const actions = curlActions ? { ...template.actions, ...curlActions } : template.actions;
    catalogues[m] = { version: 1, machine: m, actions, operations: {}, probes };
  }

  const plan = {
    version: 1,
    id: 'scale',
    title: `every one of ${shape.agents} generated agents on ${shape.machines} machines`,
    thresholds: { sampleIntervalMs: 200, degradationMinDeltaMs: 1000, maxConsecutiveProbeErrors: 3 },
    timings: { baselineSamples: 1, rapidVerificationMs: 400, stageVerificationMs: 400, observationMs: 0, machineQueueWaitMs: 60_000, actionAttempts: 3, actionRetryMaxIntervalMs: 500, ...(shape.rollbackUndosAtOncePerMachine ? { rollbackUndosAtOncePerMachine: shape.rollbackUndosAtOncePerMachine } : {}) },
    ...(shape.history ? { history: shape.history } : {}),
    // A simulated fleet for benchmarks and tests: its gates are decided by name, unsigned.
    decisions: { unsigned: true },
    weeks: [
      {
        id: 'week1',
        title: 'pilots, then every agent in batches',
        steps: [
          {
            id: 'all',
            migrate: {
              change: 'scale-change',
              select: { machines: machineNames },
              pilots: shape.pilots ?? 3,
              // A quarter of the fleet per batch, at most the 1,000 a plan allows (config/schema/plan.ts).
              batchSize: shape.batchSize ?? Math.min(1000, Math.max(1, Math.ceil(shape.agents / 4))),
              maxConcurrentPerMachine: shape.maxConcurrentPerMachine ?? 4,
              failureBudget: { perBatch: shape.agents, perWeek: shape.agents, onExceeded: 'pause' },
            },
          },
        ],
        gate: { criteria: [{ kind: 'max-rollbacks', count: shape.agents }] },
      },
    ],
  };
  return { inventory: inventory as GeneratedFleet['inventory'], catalogues, plan };
}

interface CatalogueCommandSpec {
  command: string;
  args: string[];
  timeoutMs: number;
}

/**
 * The simulated fleet's five actions as one curl call to the simulator each, instead of a Node
 * process (fleetctl) each: what a laptop needs to run thousands of migrations, and what the
 * Ansible comparison runs on both sides (bench/orchestration-overhead.ts). The marker check
 * keeps fleetctl's exit codes through a fixed sh script (0 present, 1 absent, 4 could not
 * tell); the values reach it as arguments, never inside the script.
 */
export function simulatorCurlActions(): Record<'backup' | 'apply-stage' | 'undo-stage' | 'verify-marker' | 'integration-check', CatalogueCommandSpec> {
  const curl = findOnPath('curl');
  const sh = findOnPath('sh');
  if (!curl || !sh) throw new Error('--curl: no curl or sh on the PATH (a catalogue command is an absolute path)');
  const post = (query: string, timeoutMs: number): CatalogueCommandSpec => ({ command: curl, args: ['-fsS', '--max-time', String(Math.ceil(timeoutMs / 1000)), '-X', 'POST', `{simulatorAdmin}/actions?${query}`], timeoutMs });
  // The status line decides (curl -i); the script has no braces, which a catalogue reads as placeholders.
  const markerScript = [
    'answer=$("$0" -s -i --max-time 10 -X POST "$1/actions?action=verify-marker&agent=$2&change=$3&stage=$4")',
    'case "$answer" in "HTTP/1.1 200"*) exit 0 ;; "HTTP/1.1 409"*) exit 1 ;; *) echo "verify-marker $2: the simulator answered: $answer" | head -c 300 >&2; exit 4 ;; esac',
  ].join('\n');
  return {
    backup: post('action=backup&agent={agent}&change={change}&stage={stage}&key={idempotencyKey}', 15_000),
    'apply-stage': post('action=apply-stage&agent={agent}&change={change}&stage={stage}&key={idempotencyKey}', 30_000),
    'undo-stage': post('action=undo-stage&agent={agent}&change={change}&stage={stage}&key={idempotencyKey}', 30_000),
    'verify-marker': { command: sh, args: ['-c', markerScript, curl, '{simulatorAdmin}', '{agent}', '{change}', '{stage}'], timeoutMs: 15_000 },
    'integration-check': post('action=integration-check&agent={agent}', 10_000),
  };
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return path.join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return null;
}

/** Writes a generated fleet as a configuration folder (deployment.json copied from the defaults). */
export function writeFleet(dir: string, fleet: GeneratedFleet): void {
  mkdirSync(path.join(dir, 'catalogues'), { recursive: true });
  mkdirSync(path.join(dir, 'plans'), { recursive: true });
  const write = (f: string, v: unknown) => writeFileSync(path.join(dir, f), `${JSON.stringify(v, null, 2)}\n`);
  const deployment = JSON.parse(readFileSync(path.join(defaultConfigDir, 'deployment.json'), 'utf8')) as Record<string, unknown> & { metrics: { ports: Record<string, number> } };
  const machines = Object.keys(fleet.catalogues);
  deployment.catalogues = Object.fromEntries(machines.map((m) => [m, `catalogues/${m}.json`]));
  deployment.metrics = { ...deployment.metrics, ports: Object.fromEntries([['control', 9464], ...machines.map((m, i) => [m, 9465 + i])]) };
  write('deployment.json', deployment);
  write('inventory.json', fleet.inventory);
  for (const [m, c] of Object.entries(fleet.catalogues)) write(path.join('catalogues', `${m}.json`), c);
  write(path.join('plans', 'scale.json'), fleet.plan);
}

if (require.main === module) {
  try {
    const { values } = parseArgs({ options: { agents: { type: 'string' }, machines: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, curl: { type: 'boolean', default: false } } });
    if (!values.agents || !values.machines || !values.out) throw new Error('usage: generate-fleet --agents N --machines M --out DIR [--seed N] [--curl]');
    const fleet = generateFleet({ agents: Number(values.agents), machines: Number(values.machines), ...(values.seed ? { seed: Number(values.seed) } : {}), actions: values.curl ? 'curl' : 'fleetctl' });
    writeFleet(path.resolve(values.out), fleet);
    process.stdout.write(`${fleet.inventory.agents.length} agents on ${fleet.inventory.machines.length} machines written to ${values.out} (plan: plans/scale.json)\n`);
  } catch (err) {
    process.stderr.write(`generate-fleet: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
