import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ConfigError, loadPlan, type PhasegateConfig } from '../config/load';
import { phaseInput } from '../plan/compile';
import { defaultConfigDir, projectRoot } from '../lib/paths';
import { Stack, waitForPort } from '../lib/stack';
import type { ProductionStack } from '../lib/production-stack';
import { connectClient, temporalTarget } from '../lib/temporal';
import { phaseStatusQuery, phaseWorkflow, weekWorkflowId, type PhaseInput, type PhaseStatus } from '../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../workflows/week';
import { phaseWorkflowIdFor } from './start';

export interface DemoOptions {
  config: PhasegateConfig;
  planFile: string;
  /** Run to the end: gates with criteria promote themselves (withScriptedPromotion); the others are decided as "demo-script" from their report; then exit with the outcome. */
  untilDone: boolean;
  /** Make one pc2 agent fail its integration check, to show an automatic rollback. */
  injectFault: boolean;
  /** Run on the production-shaped stack (lib/production-stack.ts) instead of the embedded one. */
  production?: ProductionStack;
}

/**
 * The local stack alone (`scripts/demo.sh --stack-only`): dev server with its Web UI,
 * nats-server, simulator and workers, with no phase started, until Ctrl-C. Its data folder
 * (`<dataDir>/stack`) is kept between runs: a phase started by hand carries on when the stack
 * is started again.
 */
export async function runStack(config: PhasegateConfig, production?: ProductionStack): Promise<number> {
  if (!production) await refuseBusyPorts(config);
  const dataDir = production?.dataDir ?? path.resolve(projectRoot, config.deployment.dataDir, 'stack');
  mkdirSync(dataDir, { recursive: true });
  const stack = production ?? new Stack({ config, dataDir });
  const stop = async (code: number) => {
    say('stack: stopping workers, simulator and servers ...');
    await stack.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(130));
  process.once('SIGTERM', () => void stop(143));
  const started = Date.now();
  say(`stack: starting (logs in ${path.relative(process.cwd(), path.join(dataDir, 'logs')) || '.'}) ...`);
  await stack.start();
  const target = temporalTarget(config.deployment);
  say(`stack: up in ${((Date.now() - started) / 1000).toFixed(1)} s: Temporal ${target.address}${target.uiUrl ? ` (Web UI ${target.uiUrl})` : ''}, NATS, simulator, control worker, workers for ${config.inventory.machines.map((m) => m.name).join(' and ')}`);
  say('No phase runs. Start one in another terminal, e.g.:');
  const plansDir = path.join(config.configDir, config.deployment.plansDir);
  const plan = existsSync(path.join(plansDir, 'demo.json')) ? 'demo.json' : !existsSync(plansDir) ? 'PLAN.json' : (readdirSync(plansDir, { withFileTypes: true }).find((f) => f.isFile() && f.name.endsWith('.json'))?.name ?? 'PLAN.json');
  say(`  node dist/cli/main.js start ${path.relative(process.cwd(), path.join(plansDir, plan))}${config.configDir === defaultConfigDir ? '' : ` --config ${path.relative(process.cwd(), config.configDir)}`}`);
  say('  or with the temporal CLI, as README.md shows. Ctrl-C stops the stack; its history stays in ' + path.relative(process.cwd(), dataDir));
  await new Promise(() => undefined);
  return 0;
}

async function refuseBusyPorts(config: PhasegateConfig): Promise<void> {
  const t = config.deployment.temporal;
  const n = config.deployment.nats;
  if (t.mode === 'embedded' && (await portInUse(t.host, t.port))) {
    throw new ConfigError(config.deploymentFile, [{ field: 'temporal.port', reason: `port ${t.port} on ${t.host} is in use: is another phasegate demo or Temporal server running? Stop it, or set temporal.mode to "external" with its address` }]);
  }
  if (n.mode === 'embedded' && (await portInUse(n.host, n.port))) {
    throw new ConfigError(config.deploymentFile, [{ field: 'nats.port', reason: `port ${n.port} on ${n.host} is in use: stop that NATS server, or set nats.mode to "external"` }]);
  }
}

/** What the demo left in its data folder: the phase it started, and whether it saw it end. */
interface DemoMarker {
  workflowId: string;
  plan: string;
  startedAt: string;
  ended: boolean;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function portInUse(host: string, port: number): Promise<boolean> {
  return waitForPort(host, port, 0).then(
    () => true,
    () => false,
  );
}

/**
 * The main job: boots the embedded stack (dev server with Web UI, nats-server, simulator,
 * workers), starts a phase over the simulated fleet, prints progress and how to steer it.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const { config } = opts;
  const plan = loadPlan(opts.planFile, config); // bad plan: fails here, before anything starts
  const n = config.deployment.nats;
  if (!opts.production) await refuseBusyPorts(config);

  const dataDir = opts.production?.dataDir ?? path.resolve(projectRoot, config.deployment.dataDir, 'demo');
  // Run again after an interruption (Ctrl-C, a closed terminal), the demo carries on with the
  // phase it left: its history and the simulated fleet's journal are in the data folder, and
  // the phase resumes by itself once the workers are back. Starting the plan again beside it
  // would act on the same agents twice. A phase that ended leaves nothing to resume: the old
  // folder is kept as demo.previous and the run starts on a fresh fleet.
  const markerFile = path.join(dataDir, 'demo-phase.json');
  const left: DemoMarker | null = existsSync(markerFile) ? (JSON.parse(readFileSync(markerFile, 'utf8')) as DemoMarker) : null;
  if (!left?.ended && left) {
    say(`demo: phase ${left.workflowId} (plan ${left.plan}, started ${left.startedAt}) did not finish in the last run; resuming it instead of starting another`);
  } else if (opts.production) {
    // The servers' data stays (earlier phases remain in the Web UI); the simulated fleet starts afresh.
    rmSync(path.join(dataDir, 'fleet'), { recursive: true, force: true });
  } else if (existsSync(dataDir)) {
    const previous = `${dataDir}.previous`;
    rmSync(previous, { recursive: true, force: true });
    renameSync(dataDir, previous);
  }
  mkdirSync(dataDir, { recursive: true });
  const stack = opts.production ?? new Stack({ config, dataDir });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('demo: stopping workers, simulator and servers ...');
    await stack.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(130));
  process.once('SIGTERM', () => void stop(143));

  const started = Date.now();
  say(`demo: starting the local stack (logs in ${path.relative(process.cwd(), path.join(dataDir, 'logs')) || '.'}) ...`);
  await stack.start();
  const target = temporalTarget(config.deployment);
  say(`demo: stack up in ${((Date.now() - started) / 1000).toFixed(1)} s: Temporal ${target.address}${opts.production ? ' (server on PostgreSQL)' : ''}, NATS ${n.mode === 'embedded' ? `${n.host}:${n.port}` : n.servers.join(' ')}, simulator, control worker, workers for ${config.inventory.machines.map((m) => m.name).join(' and ')}`);

  const { client, connection } = await connectClient(config.deployment);
  let resumed = left && !left.ended ? client.workflow.getHandle<typeof phaseWorkflow>(left.workflowId) : null;
  if (resumed && (await resumed.describe().catch(() => null))?.status.name !== 'RUNNING') {
    say(`demo: ${left!.workflowId} is no longer running; starting the plan afresh`);
    resumed = null;
  }
  const workflowId = resumed ? resumed.workflowId : phaseWorkflowIdFor(plan.id, new Date());
  const handle =
    resumed ??
    (await client.workflow.start(phaseWorkflow, {
      taskQueue: config.deployment.controlTaskQueue,
      workflowId,
      args: [opts.untilDone ? withScriptedPromotion(phaseInput(plan, config.inventory, config.deployment)) : phaseInput(plan, config.inventory, config.deployment)],
    }));
  const marker: DemoMarker = resumed ? left! : { workflowId, plan: plan.id, startedAt: new Date().toISOString(), ended: false };
  writeFileSync(markerFile, JSON.stringify(marker));
  const cli = `.tools/bin/temporal --address ${target.address}`;
  say('');
  say(resumed ? `phase ${plan.id} resumed: workflow ${workflowId}` : `phase ${plan.id} started as workflow ${workflowId}`);
  if (target.uiUrl) say(`  Web UI:   ${target.uiUrl}/namespaces/${target.namespace}/workflows/${workflowId}`);
  say(`  list:     ${cli} workflow list --query 'PhasegatePhase="${plan.id}"'`);
  say(`  status:   ${cli} workflow query --workflow-id ${workflowId} --type status`);
  say(`  pause:    ${cli} workflow signal --workflow-id ${workflowId} --name pause --input '{"by":"you"}'`);
  say(`  resume:   ${cli} workflow signal --workflow-id ${workflowId} --name resume --input '{"by":"you"}'`);
  say(`  approve:  ${cli} workflow update execute --workflow-id ${weekWorkflowId(workflowId, '<week>')} --name decideGate --input '{"gate":"${plan.id}.<week>.gate","decision":"go","by":"you"}'`);
  say(`  or with phasegate's CLI: node dist/cli/main.js status ${workflowId}   |   node dist/cli/main.js gate go ${workflowId} --reason "..."`);
  say('');

  if (opts.injectFault && !resumed) {
    const victim = phaseInput(plan, config.inventory, config.deployment).weeks[0]?.steps.find((s) => s.migrate)?.migrate?.agents.at(-1);
    if (victim) {
      const sim = config.deployment.simulator;
      // On the production-shaped stack each machine host may have its own simulator.
      const admin = opts.production ? opts.production.simulatorAdminFor(victim.machine) : `http://${sim.adminHost}:${sim.adminPort}`;
      await fetch(`${admin}/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: victim.name, integrationFailing: true, clearOnUndo: true }),
      });
      say(`demo: injected a fault: ${victim.name}'s integration check will fail after its migration, so phasegate rolls it back by itself`);
    }
  }

  const outcome = await followPhase(client, handle, opts.untilDone);
  if (outcome !== 'paused') writeFileSync(markerFile, JSON.stringify({ ...marker, ended: true }));
  if (outcome === 'paused') {
    say('');
    say(`phase ${plan.id} paused for a human (see above); a script cannot decide that, so the demo stops here with exit code 3.`);
    say(`The workflow stays in the history under ${dataDir}; run the demo without --until-done to steer a phase by hand.`);
    await connection.close();
    await stop(3);
    return 3;
  }
  say('');
  say(`phase ${plan.id} ${outcome.outcome}: ${outcome.weeks.map((w) => `${w.id} ${w.outcome}`).join(', ')} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (target.uiUrl) say(`history: ${target.uiUrl}/namespaces/${target.namespace}/workflows/${workflowId}`);
  await connection.close();
  if (opts.untilDone) {
    await stop(outcome.outcome === 'completed' ? 0 : 1);
    return outcome.outcome === 'completed' ? 0 : 1;
  }
  say('demo: the stack stays up so you can read the history in the Web UI; Ctrl-C stops everything.');
  await new Promise(() => undefined);
  return 0;
}

/**
 * Run-to-the-end mode: every gate with criteria promotes itself once they are met, at once and
 * with a 5-second veto window (decisions/gates.ts); the script decides only what the policy
 * leaves to a person (criteria unmet: rollback-week; no criteria: go).
 */
function withScriptedPromotion(input: PhaseInput): PhaseInput {
  return { ...input, weeks: input.weeks.map((w) => (w.gate.criteria.length && !w.gate.autoPromote ? { ...w, gate: { ...w.gate, autoPromote: { bakeMs: 0, vetoMs: 5000 } } } : w)) };
}

/** Prints progress lines as the phase moves; in until-done mode decides each gate the policy leaves to a person, from its report. */
async function followPhase(client: Client, handle: WorkflowHandle<typeof phaseWorkflow>, untilDone: boolean): Promise<PhaseStatus | 'paused'> {
  let lastLine = '';
  const decided = new Set<string>();
  const announced = new Set<string>();
  for (;;) {
    const announcePromotion = (w: WeekStatus) => {
      if (w.gate.autoPromotion?.state !== 'promoted' || announced.has(`${w.gate.id}:promoted`)) return;
      announced.add(`${w.gate.id}:promoted`);
      decided.add(w.gate.id);
      say(`  gate ${w.gate.id}: go (auto-promotion policy, from the report)`);
    };
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') {
      const result = await handle.result();
      // A gate that promoted itself as the phase ended: say so before the outcome.
      for (const w of result.weeks) {
        const s = await client.workflow.getHandle(w.workflowId).query(weekStatusQuery).catch(() => null);
        if (s) announcePromotion(s);
      }
      return result;
    }
    const phase = await handle.query(phaseStatusQuery).catch(() => null);
    const weekEntry = phase?.weeks.find((w) => w.id === phase.currentWeek);
    const week: WeekStatus | null = weekEntry ? await client.workflow.getHandle(weekEntry.workflowId).query(weekStatusQuery).catch(() => null) : null;
    if (week) {
      const count = (s: string) => week.agents.filter((a) => a.state === s).length;
      const line = `${week.week}: ${week.state}${week.pauseReason ? ` (${week.pauseReason})` : ''}; batches ${week.batches.done}/${week.batches.total}; agents migrated ${count('migrated')}, running ${count('running')}, waiting ${count('waiting')}, rolled back ${count('rolled-back')}`;
      if (line !== lastLine) say(`  ${line}`);
      lastLine = line;
      for (const a of week.agents) {
        if (a.state === 'rolled-back' && !announced.has(a.workflowId)) {
          announced.add(a.workflowId);
          say(`  ${a.agent} on ${a.machine} rolled back by itself: ${a.trigger ?? 'a step failed'}`);
        }
      }
      for (const w of phase?.waitingForPerson ?? []) {
        const key = `${w.workflowId}:${w.what}:${w.since}`;
        if (announced.has(key)) continue;
        announced.add(key);
        say(`  ${w.agent ?? w.machine ?? w.workflowId} waits for a person (${w.what}): ${w.detail}`);
        say(`    resolve: node dist/cli/main.js ${w.resolve.replace(/^phasegate /, '')}`);
      }
      if (untilDone && (week.state === 'paused' || (phase?.waitingForPerson.length ?? 0) > 0)) return 'paused';
      if (week.state === 'gate-open' && week.gate.report && !decided.has(week.gate.id)) {
        const promotion = week.gate.autoPromotion?.state;
        // The gate promotes itself (withScriptedPromotion): nothing to decide unless it withheld.
        if (untilDone && (promotion === 'baking' || promotion === 'veto-window')) {
          if (!announced.has(`${week.gate.id}:promotion`)) {
            announced.add(`${week.gate.id}:promotion`);
            say(`  gate ${week.gate.id} open, criteria met: it promotes itself at ${(week.gate.autoPromotion as { promotesAt: string }).promotesAt} unless held (hold: node dist/cli/main.js gate hold ${handle.workflowId})`);
          }
        } else {
          say(`  gate ${week.gate.id} open: ${week.gate.report.criteria.map((c) => `${c.met ? 'met' : 'NOT met'}: ${c.detail}`).join('; ')}`);
          if (untilDone) {
            const decision = week.gate.report.met ? 'go' : 'rollback-week';
            // Refused when it was decided meanwhile (a resumed run): the next look shows the outcome.
            const ok = await client.workflow
              .getHandle(weekEntry!.workflowId)
              .executeUpdate(decideGateUpdate, { args: [{ gate: week.gate.id, decision, by: 'demo-script', reason: `run-to-the-end mode decides from the gate report${promotion === 'withheld' ? ' (the gate withheld its own promotion)' : ''}` }] })
              .then(
                () => true,
                () => false,
              );
            if (ok) say(`  gate ${week.gate.id}: ${decision} (demo-script, from the report)`);
          } else {
            say(`  waiting for your decision: the "approve" command above, with <week> = ${week.week}`);
          }
          decided.add(week.gate.id);
        }
      }
      announcePromotion(week);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
