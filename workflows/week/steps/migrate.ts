import { ParentClosePolicy, log, patched, startChild, workflowInfo } from '@temporalio/workflow';
import { budgetExceeded, planBatches, planRounds } from '../../../decisions/batches';
import { unchangedControls } from '../../../decisions/controls';
import type { StageNumber } from '../../../decisions/migration-steps';
import { agentMigrationWorkflow, type AgentMigrationResult } from '../../agent-migration';
import { briefStatusMigrating, migrationVisibility } from '../../agent-migration/visibility';
import { migrationWorkflowId } from '../../lib/ids';
import { migrationsStartWithAttributesPatch } from '../../lib/patches';
import { searchAttributes } from '../../lib/visibility';
import { migrationInput, type InventoryAgent } from '../../lib/migration-input';
import { abortSignal, forwardedAbort, lineHoldSignal, pauseSignal } from '../../lib/steering';
import { waitWhilePaused } from '../holds';
import { historyIsLong, newRunBetweenRoundsPatch } from '../new-run';
import type { WeekRun } from '../run';
import { withLinkWatch } from '../link-watch';
import type { AgentProgress, WeekMigrateStep, WeekStep } from '../messages';
import type { StepEnd } from './index';

/** Outcomes that spend the failure budget: the change did not stay as intended. */
const failures: ReadonlySet<AgentProgress['state']> = new Set(['rolled-back', 'accepted-as-is', 'failed']);

/**
 * A migrate step: the agents in batches (pilots first), each batch in per-machine lanes of
 * exactly `maxConcurrentPerMachine` migrations at once, each migration a child workflow. The
 * step never leaves a migration behind: every lane waits for its migration's result, an abort
 * included, and whatever a migration leaves applied is added to the week's applied changes.
 */
export async function migrate(run: WeekRun, step: WeekStep, from: { round: number; failedInBatch: number } | null = null): Promise<StepEnd> {
  const m = step.migrate!;
  const { status, input } = run;
  const batches = planBatches(m.agents, m.pilots, m.batchSize);
  const rounds = planRounds(batches, run.history.migrationsPerRound);
  const weekId = workflowInfo().workflowId;
  const progress = new Map<InventoryAgent, AgentProgress>();
  /** Agents this week migrates (withUnchangedControls), made once. */
  let changedByWeek: Set<string> | undefined;
  if (!from) {
    status.batches.total += batches.length;
    batches.forEach((batch, bi) =>
      batch.forEach((a) => {
        const p: AgentProgress = { agent: a.name, machine: a.machine, batch: bi + 1, state: 'waiting', workflowId: migrationWorkflowId(weekId, a.name, m.change) };
        progress.set(a, p);
        status.agents.push(p);
      }),
    );
  } else {
    // A new run of the week: its agents' progress came with the status (looked up by id: a
    // search of the list per agent is quadratic, seconds of a workflow task at 5,000 agents).
    const byId = new Map(status.agents.map((x) => [x.workflowId, x]));
    for (const a of m.agents) {
      const p = byId.get(migrationWorkflowId(weekId, a.name, m.change));
      if (p) progress.set(a, p);
    }
  }
  run.agentsChanged();
  let failedInWeek = status.agents.filter((a) => failures.has(a.state)).length;
  let failedInBatch = from?.failedInBatch ?? 0;

  return withLinkWatch(run, async () => {
    for (let ri = from?.round ?? 0; ri < rounds.length; ri++) {
      const round = rounds[ri]!;
      // Between two rounds, nothing of the week's own is running: the one moment its history
      // can be handed to a new run (workflow.ts). Not before this run has done a round.
      if (run.roundsThisRun > 0 && !run.aborted && historyIsLong(run) && patched(newRunBetweenRoundsPatch)) return { kind: 'new-run', round: ri, failedInBatch };
      await waitWhilePaused(run);
      if (run.aborted) break;
      run.roundsThisRun++;
      const i = round.batch;
      if (round.firstOfBatch) {
        run.notify.emit('batch.started', { step: step.id, batch: i + 1, of: batches.length, agents: batches[i]!.map((a) => a.name) });
        failedInBatch = 0;
      }
      const byMachine = new Map<string, InventoryAgent[]>();
      for (const a of round.agents) byMachine.set(a.machine, [...(byMachine.get(a.machine) ?? []), a]);
      const lanes: Promise<void>[] = [];
      for (const agents of byMachine.values()) {
        const queue = [...agents];
        // Counted once, before any lane takes an agent from the queue.
        const laneCount = Math.min(m.maxConcurrentPerMachine, queue.length);
        for (let lane = 0; lane < laneCount; lane++) {
          lanes.push(
            (async () => {
              for (let next = queue.shift(); next; next = queue.shift()) {
                const p = progress.get(next)!;
                await waitWhilePaused(run);
                if (run.aborted) {
                  p.state = 'cancelled';
                  p.detail = 'not started: the week was aborted';
                  continue;
                }
                await migrateOne(run, m, next, p);
                if (failures.has(p.state)) {
                  failedInBatch++;
                  failedInWeek++;
                }
              }
            })(),
          );
        }
      }
      await Promise.all(lanes);
      run.agentsChanged();
      if (!round.lastOfBatch) continue;
      status.batches.done++;
      if (run.aborted) break;
      const over = budgetExceeded({ failedInBatch, failedInWeek }, m.failureBudget);
      if (over) {
        const why = `${over === 'batch' ? `batch ${i + 1}` : 'the week'} is over its failure budget (${failedInBatch} failed in the batch, ${failedInWeek} in the week; budget ${m.failureBudget.perBatch} per batch, ${m.failureBudget.perWeek} per week)`;
        run.notify.alert(2, `${run.label}: failure budget exceeded`, why);
        if (m.failureBudget.onExceeded === 'rollback-week') return { kind: 'rollback-week', reason: 'failure budget exceeded' };
        run.paused = true;
        status.pauseReason = `${why}; resume to carry on, or abort`;
        await waitWhilePaused(run);
      }
    }
    for (const p of progress.values()) {
      if (p.state === 'waiting') {
        p.state = 'cancelled';
        p.detail = 'not started: the week was aborted';
      }
    }
    run.agentsChanged();
    return null;
  });

  /** The agent with only the controls that this week leaves alone (a week input may be written by hand). */
  function withUnchangedControls(agent: InventoryAgent): InventoryAgent {
    if (!agent.controls) return agent;
    const changed = (changedByWeek ??= new Set(input.week.steps.flatMap((s) => s.migrate?.agents.map((a) => a.name) ?? [])));
    const { controls, ...rest } = agent;
    const kept = unchangedControls(controls, changed);
    return kept.length ? { ...rest, controls: kept } : rest;
  }

  /** One agent's migration, as a child workflow, to its end; its result goes into the week's record. */
  async function migrateOne(run: WeekRun, step: WeekMigrateStep, agent: InventoryAgent, p: AgentProgress): Promise<void> {
    p.state = 'running';
    run.agentsChanged(agent.machine);
    let handle;
    try {
      const given = migrationInput(withUnchangedControls(agent), input.settings, step.change, { phase: input.phase, week: input.week.id, ...(step.whenAgentBusy ? { whenAgentBusy: step.whenAgentBusy } : {}) });
      // Its search attributes and memo set as it starts, not by it (lib/patches.ts): four events
      // fewer per migration; and the brief history (its status attribute already "migrating").
      const visible = patched(migrationsStartWithAttributesPatch) ? migrationVisibility(given) : null;
      handle = await startChild(agentMigrationWorkflow, {
        workflowId: p.workflowId,
        args: [visible ? { ...given, startedWithAttributes: true as const, briefHistory: true as const } : given],
        ...(visible ? { typedSearchAttributes: [...visible.searchAttributes, { key: searchAttributes.status, value: briefStatusMigrating }], memo: { summary: visible.summary } } : {}),
        // A week closed for good (terminated) leaves no migration half-done: each one is
        // asked to cancel, which it takes as an abort and rolls itself back.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${agent.name} on ${agent.machine}: ${step.change}`,
      });
    } catch (err) {
      p.state = 'failed';
      p.detail = `could not start its migration: ${String(err)}`;
      log.error('agent migration not started', { agent: agent.name, error: String(err) });
      return;
    }
    run.running.set(p.workflowId, handle);
    // Steering that came while it was starting reaches it now.
    if (run.paused) await handle.signal(pauseSignal, { by: 'phasegate', reason: (run.status.pauseReason ?? 'week paused').slice(0, 1000) }).catch(() => undefined);
    if (run.hold) await handle.signal(lineHoldSignal, { hold: run.hold }).catch(() => undefined);
    if (run.status.abort) {
      run.inFlightAtAbort.add(p.workflowId);
      await handle.signal(abortSignal, forwardedAbort(run.status.abort)).catch(() => undefined);
    }
    let result: AgentMigrationResult | null = null;
    try {
      result = await handle.result();
    } catch (err) {
      p.detail = `its workflow ended without a result: ${String(err)}`;
      log.error('agent migration failed', { agent: agent.name, error: String(err) });
    }
    run.running.delete(p.workflowId);
    if (result?.trigger) p.trigger = `${result.trigger.kind}: ${result.trigger.detail}`;
    if (!result) {
      // What it left on the agent is unknown: count every stage as applied, so a week or phase
      // rollback undoes them (an undo of an absent stage changes nothing).
      p.state = 'failed';
      p.stagesLeft = [1, 2, 3];
      run.status.applied.push({ kind: 'migration', agent: agent.name, machine: agent.machine, change: step.change, week: input.week.id, stages: [1, 2, 3] });
    } else {
      p.state = result.outcome;
      if (result.outcome === 'refused' && result.agentHeldBy) p.detail = `held by ${result.agentHeldBy.holder} (${result.agentHeldBy.change})`;
      else if (result.outcome === 'refused' && result.refusedBecause) p.detail = result.refusedBecause;
      const overdue = result.deadlinesPassed?.find((d) => d.action === 'rollback');
      if (overdue && result.outcome !== 'migrated') p.detail = `${overdue.what} passed its ${overdue.scope} deadline (${overdue.why})`;
      if (result.outcome === 'migrated' || result.outcome === 'accepted-as-is') {
        const stages = [...result.stagesApplied].sort() as StageNumber[];
        if (result.outcome === 'accepted-as-is') p.stagesLeft = stages;
        if (stages.length) {
          run.status.applied.push({ kind: 'migration', agent: agent.name, machine: agent.machine, change: step.change, week: input.week.id, stages, ...(result.outcome === 'accepted-as-is' ? { acceptedAsIs: true } : {}) });
        }
      }
    }
    run.agentsChanged(agent.machine);
  }
}
