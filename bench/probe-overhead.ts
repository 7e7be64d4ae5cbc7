import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { GpuMemoryReader } from '../activities/machine/gpu-reader';
import { readGpuMemory, readLoad, readResponse, type GpuProbeState } from '../activities/machine/probes';
import { loadConfig } from '../config/load';
import { defaultConfigDir, projectRoot } from '../lib/paths';

/**
 * What probing costs the machine: one prober process per machine (as each machine worker
 * would be) samples every agent of its machine every second with the real probe code, for a
 * while; the parent reads the probers' CPU time, the CPU of every child process they started
 * and waited for (nvidia-smi: /proc's cutime and cstime), and their resident memory, and prints
 * them as a share of the machine, against docs/domain.md's overhead target (under 5 %, floor
 * 10 %), and as a share of one core against issue 16's (per agent under 2 %, shared under 0.5 %).
 *
 * Two ways of sampling are measured: "per agent" runs every probe for every agent, as a
 * verification window does for the agent it watches; "shared" reads the machine-wide metrics
 * (GPU memory, load) once per tick and only the health endpoint per agent.
 *
 * node dist/bench/probe-overhead.js [seconds per mode, default 30]
 */

type Mode = 'per-agent' | 'per-agent-looping' | 'shared';

interface ChildJob {
  machine: string;
  mode: Mode;
  seconds: number;
  urls: Array<{ url: string; pid: number }>;
}

async function prober(job: ChildJob): Promise<void> {
  const config = loadConfig(defaultConfigDir);
  const base = config.catalogues[job.machine]!;
  // The looping mode: one long-lived nvidia-smi serves every reading (activities/machine/gpu-reader.ts).
  const catalogue = job.mode === 'per-agent-looping' && base.probes.gpu ? { ...base, probes: { ...base.probes, gpu: { ...base.probes.gpu, loopMs: 1000 } } } : base;
  const state: GpuProbeState = { reader: null, apps: null };
  if (job.mode === 'per-agent-looping' && catalogue.probes.gpu) {
    const reader = new GpuMemoryReader({ ...catalogue.probes.gpu, loopMs: 1000 }, projectRoot);
    reader.start();
    state.reader = reader;
  }
  const end = Date.now() + job.seconds * 1000;
  let ticks = 0;
  let late = 0;
  while (Date.now() < end) {
    const tick = Date.now();
    if (job.mode !== 'shared') {
      // As a window does: the GPU reading follows the health answer, which names the agent's process.
      await Promise.all(job.urls.map((u) => Promise.all([readResponse(u.url, 5000).then(() => readGpuMemory(catalogue, projectRoot, [u.pid], state)), readLoad({ kind: 'load-average' })])));
    } else {
      await Promise.all([readGpuMemory(catalogue, projectRoot), readLoad({ kind: 'load-average' }), ...job.urls.map((u) => readResponse(u.url, 5000))]);
    }
    ticks++;
    const spent = Date.now() - tick;
    if (spent > 1000) late++;
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - spent)));
  }
  // The parent reads this prober's CPU, the looping reader's included, then stops it.
  process.once('SIGTERM', () => {
    (state.reader as GpuMemoryReader | null)?.stop();
    process.exit(0);
  });
  process.send!({ ticks, late });
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

/** utime + stime of a process in ms, the same of its waited-for children (cutime + cstime), and its resident set (Linux /proc). */
function procStat(pid: number): { cpuMs: number; childCpuMs: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerS = 100; // USER_HZ on Linux
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) / ticksPerS) * 1000;
  const childCpuMs = ((Number(fields[13]) + Number(fields[14])) / ticksPerS) * 1000;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuMs, childCpuMs, rssBytes: rssKb * 1024 };
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
  for (const mode of ['shared', 'per-agent', 'per-agent-looping'] as Mode[]) {
    const children = machines.map((machine) => {
      const job: ChildJob = { machine, mode, seconds, urls: servers.filter((s) => s.machine === machine).map((s) => ({ url: s.url, pid: s.pid })) };
      const child: ChildProcess = fork(__filename, ['--child', JSON.stringify(job)], { env: process.env.PHASEGATE_REAL_GPU ? process.env : { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } });
      const done = new Promise<{ ticks: number; late: number }>((resolve) => child.once('message', (m) => resolve(m as { ticks: number; late: number })));
      return { machine, job, child, done, start: Date.now(), cpu0: 0, childCpu0: 0, rssMax: 0 };
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const c of children) {
      const s0 = procStat(c.child.pid!);
      c.cpu0 = s0.cpuMs;
      c.childCpu0 = s0.childCpuMs;
    }
    const t0 = Date.now();
    const sampler = setInterval(() => {
      for (const c of children) {
        try {
          c.rssMax = Math.max(c.rssMax, procStat(c.child.pid!).rssBytes);
        } catch {
          /* exited */
        }
      }
    }, 500);
    const cpuEnd: number[] = [];
    const childCpuEnd: number[] = [];
    const outcomes = await Promise.all(
      children.map(async (c, i) => {
        const o = await c.done;
        const s1 = procStat(c.child.pid!);
        cpuEnd[i] = s1.cpuMs;
        // Waited-for children, and the long-lived ones still running (the looping reader).
        childCpuEnd[i] = s1.childCpuMs + liveChildrenCpuMs(c.child.pid!);
        return o;
      }),
    );
    clearInterval(sampler);
    const wallMs = Date.now() - t0;
    for (const [i, c] of children.entries()) {
      const ownMs = cpuEnd[i]! - c.cpu0;
      const childMs = childCpuEnd[i]! - c.childCpu0;
      const cpuPct = ((ownMs + childMs) / wallMs / cores) * 100;
      const oneCorePct = ((ownMs + childMs) / wallMs) * 100;
      const memPct = (c.rssMax / totalMem) * 100;
      const coreAim = mode === 'shared' ? 0.5 : 2;
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
        `${mode.padEnd(9)} ${c.machine.padEnd(7)} ${String(r.agents).padStart(3)} agents  ticks ${String(r.ticks).padStart(4)} (late ${r.lateTicks})  CPU ${r.proberCpuMs} ms prober + ${r.childCpuMs} ms children = ${r.cpuPctOfOneCore.toFixed(2)} % of one core (aim < ${coreAim} %: ${r.oneCoreVerdict}), ${r.cpuPctOfMachine.toFixed(2)} % of the machine  RSS ${String(r.rssMb).padStart(4)} MB (${r.memPctOfMachine.toFixed(2)} %)  -> ${r.verdict} (target < 5 %, floor < 10 %)\n`,
      );
      c.child.kill();
    }
    const total = results.filter((r) => r.mode === mode).reduce((n, r) => n + (r.cpuPctOfMachine as number), 0);
    process.stdout.write(`${mode.padEnd(9)} both machines' probers on this one machine: CPU ${total.toFixed(2)} %\n`);
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
