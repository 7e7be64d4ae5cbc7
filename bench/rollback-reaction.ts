import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assessRisk } from '../decisions/risk';
import { percentile } from '../decisions/triggers';
import { projectRoot } from '../lib/paths';
import { simulatorClient, startTestStack } from '../test/support/harness';
import { fastPlan, startMigration, waitForStatus } from '../test/support/migration';

/**
 * Rollback reaction on the real dev server: from a fault injected in the simulator to the
 * first undo starting, and to the rollback finished (every stage undone), with instant undo
 * actions. Target: finished under 5 s at p95 (the seeds); our aim: under 1 s.
 *
 * With --instant-undo, each machine's catalogue undoes a stage with one `curl` call to the
 * simulator instead of starting `node fleetctl` (~150-200 ms of Node start-up per undo): the
 * "instant undo action" of the seeds' figure.
 *
 * node dist/bench/rollback-reaction.js [runs] [sampleIntervalMs] [--instant-undo]
 */
async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const instantUndo = process.argv.includes('--instant-undo');
  const runs = Number(positional[0] ?? 30);
  const sampleIntervalMs = Number(positional[1] ?? 250);
  const env = await startTestStack({
    edit: ({ catalogues }) => {
      if (!instantUndo) return;
      for (const c of Object.values(catalogues)) {
        c.actions['undo-stage'] = {
          command: 'curl',
          args: ['-fsS', '--max-time', '10', '-X', 'POST', '{simulatorAdmin}/actions?action=undo-stage&agent={agent}&change={change}&stage={stage}&key={idempotencyKey}'],
          timeoutMs: 15000,
        };
      }
    },
  });
  const sim = simulatorClient(env.simulatorAdmin);
  // Low-band agents get the rapid strategy: three stages, then one verification window, so a
  // fault in that window makes phasegate undo all three stages.
  const agents = env.config.inventory.agents.filter((a) => assessRisk(a).band === 'low').map((a) => a.name);
  const plan = fastPlan({ thresholds: { sampleIntervalMs }, timings: { rapidVerificationMs: 120_000 } });
  const toFirstUndo: number[] = [];
  const toFinished: number[] = [];
  const toWorkflowDone: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const agent = agents[i % agents.length]!;
      const handle = await startMigration(env, agent, plan, `bench${i}`);
      await waitForStatus(handle, (s) => s.state === 'verifying' && s.stagesApplied.length === 3, 'the verification window');
      // Let the window take a few good samples, as a real one would have.
      await new Promise((r) => setTimeout(r, 3 * sampleIntervalMs));
      const injectedAt = Date.now();
      await sim.fault(agent, { errorStatus: 503, clearOnUndo: true });
      const result = await handle.result();
      if (result.outcome !== 'rolled-back') throw new Error(`run ${i}: ${agent} ended ${result.outcome}`);
      const undos = (await sim.actions(agent)).filter((a) => a.action === 'undo-stage' && a.change === `bench${i}`);
      const first = Date.parse(undos[0]!.at);
      const last = Date.parse(undos.filter((u) => u.outcome === 'undone').at(-1)!.at);
      toFirstUndo.push(first - injectedAt);
      toFinished.push(last - injectedAt);
      toWorkflowDone.push(Date.parse(result.rollback!.finishedAt!) - injectedAt);
      process.stdout.write(`run ${String(i + 1).padStart(2)}: ${agent.padEnd(28)} trigger ${result.trigger?.kind}, first undo +${first - injectedAt} ms, rolled back +${last - injectedAt} ms, healthy-after probe +${toWorkflowDone.at(-1)} ms\n`);
    }
  } finally {
    await env.stop();
  }
  const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(...xs), n: xs.length });
  const report = {
    benchmark: 'rollback-reaction',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    sampleIntervalMs,
    undoAction: instantUndo ? 'curl to the simulator (instant)' : 'node fleetctl (a Node process per undo)',
    faultToFirstUndoMs: stats(toFirstUndo),
    faultToRollbackFinishedMs: stats(toFinished),
    faultToRollbackVerifiedMs: stats(toWorkflowDone),
    targetMs: { p95: 5000, aim: 1000 },
  };
  const out = path.join(projectRoot, '.data', 'bench', `rollback-reaction${instantUndo ? '-instant' : ''}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const row = (name: string, s: ReturnType<typeof stats>) => `${name.padEnd(40)} p50 ${String(s.p50).padStart(5)} ms   p95 ${String(s.p95).padStart(5)} ms   max ${String(s.max).padStart(5)} ms`;
  process.stdout.write(`\nrollback reaction over ${runs} runs (sample interval ${sampleIntervalMs} ms, undo by ${report.undoAction}, ${report.machine.cpus} cores):\n`);
  process.stdout.write(`${row('fault -> first undo starts', report.faultToFirstUndoMs)}\n`);
  process.stdout.write(`${row('fault -> every stage undone', report.faultToRollbackFinishedMs)}\n`);
  process.stdout.write(`${row('fault -> rollback verified by a probe', report.faultToRollbackVerifiedMs)}\n`);
  const p95 = report.faultToRollbackFinishedMs.p95;
  process.stdout.write(`target under 5000 ms at p95: ${p95 < 5000 ? 'met' : 'MISSED'}; aim under 1000 ms: ${p95 < 1000 ? 'met' : 'missed'}\nwritten to ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
