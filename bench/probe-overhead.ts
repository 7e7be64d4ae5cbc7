import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { GpuMemoryReader } from '../activities/machine/gpu-reader';
import { newGpuProbeState, probeHealth, readGpuMemory, readLoad, type GpuProbeState } from '../activities/machine/probes';
import { loadConfig } from '../config/load';
import { defaultConfigDir, projectRoot } from '../lib/paths';

/**
 * What probing costs the machine: one prober process per machine (as each machine worker
 * would be) samples its machine every second with the real probe code, for a while; the parent
 * reads the probers' CPU time, the CPU of every child process they started (nvidia-smi: /proc's
 * cutime and cstime for those waited for, and the live looping reader's own), and their
 * resident memory, and prints them as a share of the machine, against docs/domain.md's
 * overhead target (under 5 %, floor 10 %), and as a share of one core against the aims there
 * (the machine's own readings under 0.5 %, every agent probed every second under 2 %).
 *
 * Modes: "shared" reads the machine-wide figures once a tick (the GPUs, the processes on them,
 * the load); "every-agent" probes every agent of the machine as a verification window probes
 * the agent it watches (health, then its GPU reading, and the load), the GPU queries shared by
 * all of them within the tick (activities/machine/probes.ts). Each with a process per GPU
 * query, and with the looping nvidia-smi (probes.gpu.loopMs).
 *
 * Integration checks are the catalogue's own command, run once per sample for the agents under
 * verification only; their cost is that command's and is not in these figures.
 *
 * node dist/bench/probe-overhead.js [seconds per mode, default 30]
 */

type Mode = 'shared' | 'shared-looping' | 'every-agent' | 'every-agent-looping';
const looping = (m: Mode) => m.endsWith('-looping');

interface ChildJob {
  machine: string;
  mode: Mode;
  seconds: number;
  urls: Array<{ url: string; pid: number }>;
}

async function prober(job: ChildJob): Promise<void> {
  const config = loadConfig(defaultConfigDir);
  const base = config.catalogues[job.machine]!;
  // The looping modes: one long-lived nvidia-smi serves every reading (activities/machine/gpu-reader.ts).
  const catalogue = looping(job.mode) && base.probes.gpu ? { ...base, probes: { ...base.probes, gpu: { ...base.probes.gpu, loopMs: 1000 } } } : base;
  // One state per prober, as one per machine worker (activities/machine/index.ts).
  const state: GpuProbeState = newGpuProbeState();
  if (looping(job.mode) && catalogue.probes.gpu) {
    const reader = new GpuMemoryReader({ ...catalogue.probes.gpu, loopMs: 1000 }, projectRoot);
    reader.start();
    state.reader = reader;
  }
  const allPids = job.urls.map((u) => u.pid);
  // Started before the clock: module loading and the reader's first loop are not probing.
  await new Promise((r) => setTimeout(r, 1500));
  const cpu0 = cpuSnapshot();
  const wall0 = Date.now();
  const end = Date.now() + job.seconds * 1000;
  let ticks = 0;
  let late = 0;
  while (Date.now() < end) {
    const tick = Date.now();
    if (job.mode.startsWith('every-agent')) {
      // As a window does for the agent it watches: the GPU reading follows the health answer, which names the agent's process.
      await Promise.all(job.urls.map((u) => Promise.all([probeHealth(u.url, 5000).then((h) => readGpuMemory(catalogue, projectRoot, h.pids, state)), readLoad({ kind: 'load-average' })])));
    } else {
      // The machine's own readings, once: its GPUs, the processes on them, its load.
      await Promise.all([readGpuMemory(catalogue, projectRoot, allPids, state), readLoad({ kind: 'load-average' })]);
    }
    ticks++;
    const spent = Date.now() - tick;
    if (spent > 1000) late++;
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - spent)));
  }
  const cpu1 = cpuSnapshot();
  (state.reader as GpuMemoryReader | null)?.stop();
  const outcome: ProberOutcome = { ticks, late, wallMs: Date.now() - wall0, ownCpuMs: cpu1.own - cpu0.own, childCpuMs: cpu1.children - cpu0.children };
  process.send!(outcome, () => process.exit(0));
}

interface ProberOutcome {
  ticks: number;
  late: number;
  wallMs: number;
  ownCpuMs: number;
  childCpuMs: number;
}

/** This process's CPU, and its children's: those waited for (cutime, cstime) and those still running (the looping reader). */
function cpuSnapshot(): { own: number; children: number } {
  const u = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const waited = ((Number(f[13]) + Number(f[14])) / 100) * 1000;
  return { own: (u.user + u.system) / 1000, children: waited + liveChildrenCpuMs(process.pid) };
}

/** CPU (own and waited-for children's) of the live children of a process: a long-lived reader's is in no cutime yet. */
function liveChildrenCpuMs(ppid: number): number {
  let ms = 0;
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) !== ppid) continue;
      ms += ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100) * 1000;
    } catch {
      /* gone */
    }
  }
  return ms;
}

/** The resident set of a process (Linux /proc). */
function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await prober(JSON.parse(process.argv[3]!) as ChildJob);
    return;
  }
  const seconds = Number(process.argv[2] ?? 30);
  const config = loadConfig(defaultConfigDir);
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-gpu-'));
  if (!process.env.PHASEGATE_REAL_GPU) {
    // Both queries: each GPU's memory, and the processes on it (every agent's made-up pid).
    const apps = config.inventory.agents.map((_, i) => `${50_000 + i}, 512, GPU-fake-0`).join('\n');
    writeFileSync(
      path.join(dir, 'nvidia-smi'),
      `#!/bin/sh\ncase "$*" in\n  *--query-compute-apps=*) printf '${apps}\\n' ;;\n  *--loop-ms=*) while true; do echo "GPU-fake-0, 40960, 81920"; sleep 1; done ;;\n  *) echo "GPU-fake-0, 40960, 81920" ;;\nesac\n`,
    );
    chmodSync(path.join(dir, 'nvidia-smi'), 0o755);
  }
  // One health endpoint per agent, answering as the simulator's do, in this (parent) process.
  const servers = await Promise.all(
    config.inventory.agents.map(
      (a, i) =>
        new Promise<{ machine: string; url: string; pid: number; server: http.Server }>((resolve) => {
          const pid = 50_000 + i;
          const server = http.createServer((_q, r) => r.end(JSON.stringify({ status: 'ok', name: a.name, version: '1.0.0', pid })));
          server.listen(0, '127.0.0.1', () => resolve({ machine: a.machine, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/health`, pid, server }));
        }),
    ),
  );
  const machines = config.inventory.machines.map((m) => m.name);
  const cores = os.cpus().length;
  const totalMem = os.totalmem();
  const results: Array<Record<string, unknown>> = [];
  process.stdout.write(`probe overhead: ${config.inventory.agents.length} agents on ${machines.join(', ')}, every second for ${seconds} s per mode; this machine: ${cores} cores, ${(totalMem / 2 ** 30).toFixed(1)} GiB${process.env.PHASEGATE_REAL_GPU ? '' : '; fake nvidia-smi on the PATH'}\n`);
  for (const mode of ['shared', 'shared-looping', 'every-agent', 'every-agent-looping'] as Mode[]) {
    const children = machines.map((machine) => {
      const job: ChildJob = { machine, mode, seconds, urls: servers.filter((s) => s.machine === machine).map((s) => ({ url: s.url, pid: s.pid })) };
      const child: ChildProcess = fork(__filename, ['--child', JSON.stringify(job)], { env: process.env.PHASEGATE_REAL_GPU ? process.env : { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } });
      const done = new Promise<ProberOutcome>((resolve) => child.once('message', (m) => resolve(m as ProberOutcome)));
      return { machine, job, child, done, rssMax: 0 };
    });
    const sampler = setInterval(() => {
      for (const c of children) {
        try {
          c.rssMax = Math.max(c.rssMax, rssOf(c.child.pid!));
        } catch {
          /* exited */
        }
      }
    }, 500);
    // Each prober measures its own probing time: its CPU and its children's, from its first tick to its last.
    const outcomes = await Promise.all(children.map((c) => c.done));
    clearInterval(sampler);
    for (const [i, c] of children.entries()) {
      const { ownCpuMs: ownMs, childCpuMs: childMs, wallMs } = outcomes[i]!;
      const cpuPct = ((ownMs + childMs) / wallMs / cores) * 100;
      const oneCorePct = ((ownMs + childMs) / wallMs) * 100;
      const memPct = (c.rssMax / totalMem) * 100;
      const coreAim = mode.startsWith('shared') ? 0.5 : 2;
      const r = {
        mode,
        machine: c.machine,
        agents: c.job.urls.length,
        seconds,
        ticks: outcomes[i]!.ticks,
        lateTicks: outcomes[i]!.late,
        proberCpuMs: Math.round(ownMs),
        childCpuMs: Math.round(childMs),
        cpuPctOfOneCore: Math.round(oneCorePct * 100) / 100,
        cpuPctOfMachine: Math.round(cpuPct * 100) / 100,
        rssMb: Math.round(c.rssMax / 2 ** 20),
        memPctOfMachine: Math.round(memPct * 100) / 100,
        target: 5,
        floor: 10,
        verdict: Math.max(cpuPct, memPct) < 5 ? 'target' : Math.max(cpuPct, memPct) < 10 ? 'floor' : 'missed',
        oneCoreAim: coreAim,
        oneCoreVerdict: oneCorePct < coreAim ? 'met' : 'missed',
      };
      results.push(r);
      process.stdout.write(
        `${mode.padEnd(19)} ${c.machine.padEnd(7)} ${String(r.agents).padStart(3)} agents  ticks ${String(r.ticks).padStart(4)} (late ${r.lateTicks})  CPU ${r.proberCpuMs} ms prober + ${r.childCpuMs} ms children = ${r.cpuPctOfOneCore.toFixed(2)} % of one core (aim < ${coreAim} %: ${r.oneCoreVerdict}), ${r.cpuPctOfMachine.toFixed(2)} % of the machine  RSS ${String(r.rssMb).padStart(4)} MB (${r.memPctOfMachine.toFixed(2)} %)  -> ${r.verdict} (target < 5 %, floor < 10 %)\n`,
      );
    }
    const total = results.filter((r) => r.mode === mode).reduce((n, r) => n + (r.cpuPctOfMachine as number), 0);
    process.stdout.write(`${mode.padEnd(19)} both machines' probers on this one machine: CPU ${total.toFixed(2)} %\n`);
  }
  for (const s of servers) s.server.close();
  const out = path.join(projectRoot, '.data', 'bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'probe-overhead.json'), JSON.stringify({ at: new Date().toISOString(), host: os.hostname(), cores, totalMemBytes: totalMem, results }, null, 2));
  process.stdout.write(`written to .data/bench/probe-overhead.json\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
