import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { readGpuMemory, readLoad, readResponse } from '../activities/machine/probes';
import { loadConfig } from '../config/load';
import { defaultConfigDir, projectRoot } from '../lib/paths';

/**
 * What probing costs the machine: one prober process per machine (as each machine worker
 * would be) samples every agent of its machine every second with the real probe code, for a
 * while; the parent reads the probers' CPU time and resident memory from /proc and prints
 * them as a share of the machine, against docs/domain.md's overhead target (under 5 %, floor 10 %).
 *
 * Two ways of sampling are measured: "per agent" runs every probe for every agent, as a
 * verification window does for the agent it watches; "shared" reads the machine-wide metrics
 * (GPU memory, load) once per tick and only the health endpoint per agent.
 *
 * node dist/bench/probe-overhead.js [seconds per mode, default 30]
 */

type Mode = 'per-agent' | 'shared';

interface ChildJob {
  machine: string;
  mode: Mode;
  seconds: number;
  urls: string[];
}

async function prober(job: ChildJob): Promise<void> {
  const config = loadConfig(defaultConfigDir);
  const catalogue = config.catalogues[job.machine]!;
  const end = Date.now() + job.seconds * 1000;
  let ticks = 0;
  let late = 0;
  while (Date.now() < end) {
    const tick = Date.now();
    if (job.mode === 'per-agent') {
      await Promise.all(job.urls.map((u) => Promise.all([readResponse(u, 5000), readGpuMemory(catalogue, projectRoot), readLoad({ kind: 'load-average' })])));
    } else {
      await Promise.all([readGpuMemory(catalogue, projectRoot), readLoad({ kind: 'load-average' }), ...job.urls.map((u) => readResponse(u, 5000))]);
    }
    ticks++;
    const spent = Date.now() - tick;
    if (spent > 1000) late++;
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - spent)));
  }
  process.send!({ ticks, late });
}

/** utime + stime of a process in ms, and its resident set in bytes (Linux /proc). */
function procStat(pid: number): { cpuMs: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerS = 100; // USER_HZ on Linux
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) / ticksPerS) * 1000;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuMs, rssBytes: rssKb * 1024 };
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
    writeFileSync(path.join(dir, 'nvidia-smi'), '#!/bin/sh\necho "40960, 81920"\n');
    chmodSync(path.join(dir, 'nvidia-smi'), 0o755);
  }
  // One health endpoint per agent, answering as the simulator's do, in this (parent) process.
  const servers = await Promise.all(
    config.inventory.agents.map(
      (a) =>
        new Promise<{ machine: string; url: string; server: http.Server }>((resolve) => {
          const server = http.createServer((_q, r) => r.end(JSON.stringify({ status: 'ok', name: a.name, version: '1.0.0' })));
          server.listen(0, '127.0.0.1', () => resolve({ machine: a.machine, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/health`, server }));
        }),
    ),
  );
  const machines = config.inventory.machines.map((m) => m.name);
  const cores = os.cpus().length;
  const totalMem = os.totalmem();
  const results: Array<Record<string, unknown>> = [];
  process.stdout.write(`probe overhead: ${config.inventory.agents.length} agents on ${machines.join(', ')}, every second for ${seconds} s per mode; this machine: ${cores} cores, ${(totalMem / 2 ** 30).toFixed(1)} GiB${process.env.PHASEGATE_REAL_GPU ? '' : '; fake nvidia-smi on the PATH'}\n`);
  for (const mode of ['shared', 'per-agent'] as Mode[]) {
    const children = machines.map((machine) => {
      const job: ChildJob = { machine, mode, seconds, urls: servers.filter((s) => s.machine === machine).map((s) => s.url) };
      const child: ChildProcess = fork(__filename, ['--child', JSON.stringify(job)], { env: process.env.PHASEGATE_REAL_GPU ? process.env : { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } });
      const done = new Promise<{ ticks: number; late: number }>((resolve) => child.once('message', (m) => resolve(m as { ticks: number; late: number })));
      return { machine, job, child, done, start: Date.now(), cpu0: 0, rssMax: 0 };
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const c of children) c.cpu0 = procStat(c.child.pid!).cpuMs;
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
    const outcomes = await Promise.all(
      children.map(async (c, i) => {
        const o = await c.done;
        cpuEnd[i] = procStat(c.child.pid!).cpuMs;
        return o;
      }),
    );
    clearInterval(sampler);
    const wallMs = Date.now() - t0;
    for (const [i, c] of children.entries()) {
      const cpuPct = ((cpuEnd[i]! - c.cpu0) / wallMs / cores) * 100;
      const memPct = (c.rssMax / totalMem) * 100;
      const r = { mode, machine: c.machine, agents: c.job.urls.length, seconds, ticks: outcomes[i]!.ticks, lateTicks: outcomes[i]!.late, cpuPctOfMachine: Math.round(cpuPct * 100) / 100, rssMb: Math.round(c.rssMax / 2 ** 20), memPctOfMachine: Math.round(memPct * 100) / 100, target: 5, floor: 10, verdict: Math.max(cpuPct, memPct) < 5 ? 'target' : Math.max(cpuPct, memPct) < 10 ? 'floor' : 'missed' };
      results.push(r);
      process.stdout.write(`${mode.padEnd(9)} ${c.machine.padEnd(7)} ${String(r.agents).padStart(3)} agents  ticks ${String(r.ticks).padStart(4)} (late ${r.lateTicks})  CPU ${r.cpuPctOfMachine.toFixed(2).padStart(6)} % of the machine  RSS ${String(r.rssMb).padStart(4)} MB (${r.memPctOfMachine.toFixed(2)} %)  -> ${r.verdict} (target < 5 %, floor < 10 %)\n`);
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
