import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../lib/paths';

/**
 * The orchestration-overhead section of bench/RESULTS.md, from .data/bench/orchestration-overhead.json
 * (bench/orchestration-overhead.ts): used by bench/all.ts, and on its own after a run of that
 * bench alone (node dist/bench/orchestration-report.js prints the section).
 */

/** CPU seconds by process over a run (children that were waited for included), and their sum. */
interface CpuSpent {
  byProcess: Record<string, number>;
  total: number;
}

/** What the simulator says after a run: how many agents carry stages 1-3 of the change, and which do not. */
interface FleetCheck {
  agents: number;
  migrated: number;
  missing: string[];
}

export interface OverheadReport {
  peer: string;
  at: string;
  strategies?: Record<string, number>;
  rounds: Array<{
    concurrencyPerMachine: number;
    phasegate: {
      wallMs: number;
      msPerAgent: number;
      workflowTasksPerAgent: number;
      eventsPerAgent: number;
      eventsByStrategy: Record<string, { migrations: number; p50: number; max: number }>;
      cpu: CpuSpent;
      fleet: FleetCheck;
    };
    ansible: { wallMs: number; msPerAgent: number; forks: number; cpu: CpuSpent; fleet: FleetCheck };
    ratio: number;
  }>;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** phasegate's CPU split: the orchestrator's own processes, the machine workers' commands and probes, the simulator (serving both sides). */
export function phasegateCpuSplit(cpu: { byProcess: Record<string, number> }): { orchestration: number; commands: number; simulator: number } {
  let orchestration = 0;
  let commands = 0;
  for (const [name, s] of Object.entries(cpu.byProcess)) {
    if (name === 'simulator') continue;
    if (name.endsWith(': commands')) commands += s;
    else orchestration += s;
  }
  return { orchestration: r1(orchestration), commands: r1(commands), simulator: r1(cpu.byProcess.simulator ?? 0) };
}

export function orchestrationSection(overhead: OverheadReport): string[] {
  const strategies = overhead.strategies
    ? ` (${Object.entries(overhead.strategies)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ')})`
    : '';
  return [
    '## Orchestration overhead against an Ansible rolling update',
    '',
    `All 77 agents${strategies}, verification windows of zero, each side migrating the whole fleet to a change of its own (bench/orchestration-overhead.ts). Both sides run the same commands, one curl call to the simulator per action (\`simulatorCurlActions\`, simulator/generate-fleet.ts), and the same checks per agent, as phasegate's steps take them for the agent's band: the markers of the three stages read back before stage 1 (absent); a sample; per stage backup, apply and marker check (present); a sample after every stage (staged, framework) or after the last (rapid). A sample is the agent's health GET, the machine's GPU memory and process list (the simulated nvidia-smi, a Node process each time it runs), the machine's load (a GET of the simulator) and the integration check. phasegate's samples also time three unchanged agents' health answers (its degradation judge's controls) and share a GPU reading within a second; the playbook asks nvidia-smi every time.`,
    '',
    `The peer is ${overhead.peer} with its best settings here: the \`free\` strategy (each host runs ahead on its own, as phasegate's migrations do), pipelining, forks equal to phasegate's total concurrency (both machines), no fact gathering, only changed and failed results printed, local connection. After each run the simulator is asked which agents carry stages 1, 2 and 3 of that side's change.`,
    '',
    '| concurrency per machine | phasegate | ms per agent | workflow tasks per agent | history events per agent | fleet migrated | Ansible | ms per agent | fleet migrated | phasegate / Ansible |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...overhead.rounds.map(
      (r) =>
        `| ${r.concurrencyPerMachine} | ${(r.phasegate.wallMs / 1000).toFixed(1)} s | ${r.phasegate.msPerAgent} | ${r.phasegate.workflowTasksPerAgent} | ${r.phasegate.eventsPerAgent} | ${r.phasegate.fleet.migrated} / ${r.phasegate.fleet.agents} | ${(r.ansible.wallMs / 1000).toFixed(1)} s (forks ${r.ansible.forks}) | ${r.ansible.msPerAgent} | ${r.ansible.fleet.migrated} / ${r.ansible.fleet.agents} | ${r.ratio} |`,
    ),
    '',
    "What each side spent its time on, in CPU seconds over the whole run (utime and stime of each process and of the children it waited for, from /proc; on 2 cores a run can spend at most twice its wall time). phasegate's orchestration is the Temporal server, NATS, the control worker and the machine workers themselves; its commands are what the machine workers ran (curl, sh, the simulated nvidia-smi). Ansible's is ansible-playbook with everything it started, commands included: the same commands, and nvidia-smi more often.",
    '',
    '| concurrency per machine | phasegate CPU | of it: orchestration | of it: commands and probes | per agent, orchestration | Ansible CPU | Ansible per agent, at most the orchestration (its CPU less phasegate\'s commands) | simulator (phasegate / Ansible run) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...overhead.rounds.map((r) => {
      const split = phasegateCpuSplit(r.phasegate.cpu);
      const ansibleAll = r.ansible.cpu.byProcess['ansible-playbook and its children'] ?? r.ansible.cpu.total;
      const top = Object.entries(r.phasegate.cpu.byProcess)
        .filter(([k]) => !k.endsWith(': commands') && k !== 'simulator')
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${r1(v)}`)
        .join(', ');
      return `| ${r.concurrencyPerMachine} | ${r1(r.phasegate.cpu.total)} s | ${split.orchestration} s (${top}) | ${split.commands} s | ${r1((split.orchestration / 77) * 1000)} ms | ${r1(ansibleAll)} s | ${r1(((ansibleAll - split.commands) / 77) * 1000)} ms | ${split.simulator} / ${r1(r.ansible.cpu.byProcess.simulator ?? 0)} s |`;
    }),
    '',
  ];
}

if (require.main === module) {
  const report = JSON.parse(readFileSync(path.join(projectRoot, '.data', 'bench', 'orchestration-overhead.json'), 'utf8')) as OverheadReport;
  process.stdout.write(`${orchestrationSection(report).join('\n')}\n`);
}
