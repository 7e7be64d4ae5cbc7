import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { percentile } from '../decisions/triggers';
import { projectRoot } from '../lib/paths';
import { benchMachine, writeBenchJson } from './report';

/**
 * Start-up: the README's main command (`scripts/demo.sh`) from a warm install (tools cached,
 * dist built) to its first workflow running ("phase ... started as workflow ..."), then
 * stopped with Ctrl-C as an operator would. Each run starts the whole embedded stack: the
 * Temporal dev server, nats-server, the simulator and the workers.
 *
 * node dist/bench/startup.js [runs, default 3]
 */
async function once(): Promise<{ toStackUpMs: number; toFirstWorkflowMs: number }> {
  const started = Date.now();
  const child = spawn('bash', ['scripts/demo.sh'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stackUp = 0;
  try {
    const first = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no workflow running after 5 minutes')), 5 * 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('demo: stack up')) stackUp = Date.now() - started;
        if (/^phase \S+ started as workflow /.test(line)) {
          clearTimeout(timer);
          resolve(Date.now() - started);
        }
      });
      child.once('exit', (code) => reject(new Error(`scripts/demo.sh exited with ${code} before a workflow ran`)));
    });
    return { toStackUpMs: stackUp, toFirstWorkflowMs: first };
  } finally {
    // Ctrl-C to the demo's process group: it stops its workers, simulator and servers.
    process.kill(-child.pid!, 'SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const results: Array<{ toStackUpMs: number; toFirstWorkflowMs: number }> = [];
  for (let i = 0; i < runs; i++) {
    const r = await once();
    results.push(r);
    process.stdout.write(`run ${i + 1}: stack up ${(r.toStackUpMs / 1000).toFixed(1)} s, first workflow running ${(r.toFirstWorkflowMs / 1000).toFixed(1)} s after scripts/demo.sh started\n`);
  }
  const xs = results.map((r) => r.toFirstWorkflowMs);
  const report = {
    benchmark: 'startup',
    at: new Date().toISOString(),
    machine: benchMachine(),
    command: 'scripts/demo.sh (warm install)',
    runs: results,
    toFirstWorkflowMs: { p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(...xs), n: xs.length },
  };
  const out = writeBenchJson('startup', report);
  process.stdout.write(`start-up to the first workflow: p50 ${report.toFirstWorkflowMs.p50} ms, max ${report.toFirstWorkflowMs.max} ms; written to ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
