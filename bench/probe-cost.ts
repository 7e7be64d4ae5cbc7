import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import si from 'systeminformation';
import { readGpuMemory, readLoad, readResponse } from '../activities/machine/probes';
import { loadConfig } from '../config/load';
import { percentile } from '../decisions/triggers';
import { defaultConfigDir, projectRoot } from '../lib/paths';

/**
 * The cost of one reading of each probe, and how long it blocks the worker's event loop
 * (which would delay every other activity's heartbeat on that worker). A fake nvidia-smi on
 * the PATH stands in for the GPU here; on a GPU machine the real one answers.
 *
 * node dist/bench/probe-cost.js [samples]
 */
const probes: Array<{ name: string; n: number; p50: number; p95: number; max: number; loopBlockedMaxMs: number }> = [];
const round1 = (x: number) => Math.round(x * 10) / 10;

async function measure(name: string, n: number, fn: () => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  loop.disable();
  const f = (x: number) => x.toFixed(1).padStart(7);
  probes.push({ name, n, p50: round1(percentile(times, 50)), p95: round1(percentile(times, 95)), max: round1(Math.max(...times)), loopBlockedMaxMs: round1(loop.max / 1e6) });
  process.stdout.write(`${name.padEnd(44)} n ${String(n).padStart(3)}  p50 ${f(percentile(times, 50))} ms  p95 ${f(percentile(times, 95))} ms  max ${f(Math.max(...times))} ms  event loop blocked up to ${f(loop.max / 1e6)} ms\n`);
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 30);
  const config = loadConfig(defaultConfigDir);
  if (!process.env.PHASEGATE_REAL_GPU) {
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-gpu-'));
    const script = path.join(dir, 'nvidia-smi');
    writeFileSync(script, '#!/bin/sh\necho "40960, 81920"\n');
    chmodSync(script, 0o755);
    process.env.PATH = `${dir}:${process.env.PATH ?? ''}`;
    process.stdout.write(`(fake nvidia-smi on the PATH: ${script})\n`);
  }
  const server = http.createServer((_q, r) => r.end('{"status":"ok"}')).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;

  await measure('GPU memory: nvidia-smi, fixed query', n, () => readGpuMemory(config.catalogues.mainpc!, process.cwd()));
  await measure('GPU: si.graphics() (execSync, no timeout)', Math.min(n, 10), () => si.graphics());
  await measure('load: os.loadavg() (the 1-minute load average)', n, () => readLoad({ kind: 'load-average' }));
  await measure('response time: GET health endpoint', n, () => readResponse(`http://127.0.0.1:${port}/health`, 5000));
  server.close();
  const out = path.join(projectRoot, '.data', 'bench', 'probe-cost.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ benchmark: 'probe-cost', at: new Date().toISOString(), fakeNvidiaSmi: !process.env.PHASEGATE_REAL_GPU, probes }, null, 2)}\n`);
  process.stdout.write(`written to ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
