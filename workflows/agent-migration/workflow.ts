import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, isCancellation, log, patched, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { deadlinesForStep, type DeadlineWatch } from '../../decisions/deadlines';
import { migrationSteps } from '../../decisions/migration-steps';
import { releaseAgentLease, takeAgentLease } from '../agent-lease';
import { agentMigrationWorkflow as agentMigrationV1 } from '../legacy/v1/agent-migration';
import { changeAlreadyOnAgentPatch, compactMigrationPatch, leanMigrationPatch, runScopedPatch } from '../lib/patches';
import { migrationInputs } from '../lib/lazy-modules';
import { searchAttributes } from '../lib/visibility';
import { registerHandlers } from './handlers';
import type { AgentMigrationInput, AgentMigrationResult, MigrationOutcome } from './messages';
import { rollBackMigration } from './rollback';
import { MigrationRun } from './run';
import { withDeadlines } from './deadlines';
import { migrationVisibility } from './visibility';
import { runStep, type StepsEnd } from './steps';
import { whyLeftAlone } from './steps/baseline';
import { publishAllAndSettle } from '../lib/notify';

/**
 * Migrates one agent in three stages with the strategy its risk band calls for, watched by
 * probes on its own machine (steps/); on a trigger, a rejection, an abort from its week or a
 * step that failed for good, undoes the stages it registered (rollback.ts, level 1). Holds
 * its agent's lease (agent-lease.ts) from start to end, so no other migration acts on it.
 */
export async function agentMigrationWorkflow(given: AgentMigrationInput): Promise<AgentMigrationResult> {
  // Histories begun before run-scoped ids and the rollback engine replay on the code that made them.
  // A lean run has every earlier patch too, and asks for none of them: each asked costs two
  // history events (its marker and the search attribute that lists patches).
  // A migration its week started with its attributes set runs the current code by
  // construction (lib/patches.ts, migrationsStartWithAttributesPatch): no patch to ask.
  const startedWithAttributes = (given as Partial<AgentMigrationInput> | null)?.startedWithAttributes === true;
  const compact = startedWithAttributes || patched(compactMigrationPatch);
  const lean = compact || patched(leanMigrationPatch);
  if (!lean && !patched(runScopedPatch)) return agentMigrationV1(given as never) as unknown as Promise<AgentMigrationResult>;
  // A migration its week started takes the input the week built from its own parsed plan (the
  // same schemas, defaults filled: workflows/lib/migration-input.ts); a child workflow is started
  // only by workflow code. One started by hand (no parent) is parsed here, before any action.
  // Parsing loads zod and the schemas into this run, about 1 MB while it stays in the worker's
  // cache (workflows/lib/lazy-modules.ts): at 200 migrations at once that was the worker's heap.
  // So a field added to this input later is read with its default where it is read (as
  // timings.rollbackUndosAtOncePerMachine is): a week on older code built its inputs without it.
  const parsed = workflowInfo().parent ? ({ ok: true, value: given } as const) : parseByHand(given);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(`agentMigrationWorkflow input refused before any action: ${parsed.problem}`, 'InvalidInput');
  const run = new MigrationRun(parsed.value, lean, compact);
  const { status, agent, machine, input } = run;
  registerHandlers(run);

  if (!startedWithAttributes) {
    const visible = migrationVisibility(input);
    upsertSearchAttributes(visible.searchAttributes);
    upsertMemo({ summary: visible.summary });
  }
  log.info('migration planned', { agent, machine, score: status.assessment.score, band: status.assessment.band, strategy: status.strategy });

  return CancellationScope.nonCancellable(async () => {
    const taken = await run.work
      .run(() =>
        takeAgentLease({ agent, holder: workflowInfo().workflowId, change: input.change }, input.whenAgentBusy ?? 'wait', run.lease, (holder) => {
          status.agentHeldBy = holder;
          run.setState('waiting-for-agent');
          run.notify.emit('agent.busy', { heldBy: holder });
        }),
      )
      .catch((err: unknown) => {
        if (isCancellation(err)) return null;
        throw err;
      });
    if (!taken) return finish(run, 'cancelled');
    if ('refused' in taken) {
      status.agentHeldBy = taken.refused;
      run.notify.alert(1, `${agent}: migration refused`, `another migration holds ${agent}${taken.refused ? ` (${taken.refused.holder}, ${taken.refused.change})` : ''}; this plan refuses rather than waits`);
      return finish(run, 'refused');
    }
    status.agentHeldBy = null;
    let outcome: MigrationOutcome;
    try {
      // A compact run reads the markers in the baseline's activity (steps/baseline.ts).
      const already = run.compact ? null : run.lean || patched(changeAlreadyOnAgentPatch) ? await changeAlreadyOnAgent(run) : null;
      if (already === 'aborted') outcome = 'cancelled';
      else if (already) {
        status.refusedBecause = already;
        run.notify.alert(1, `${agent}: migration refused`, already);
        outcome = 'refused';
      } else {
        const end = await runSteps(run);
        if (end.kind === 'migrated') {
          status.currentStage = null;
          outcome = 'migrated';
        } else if (end.kind === 'skipped') {
          status.refusedBecause = end.why;
          outcome = 'refused';
        } else if ((end.kind === 'aborted' || end.kind === 'deadline') && run.compensations.length === 0) outcome = 'cancelled';
        else outcome = await rollBackMigration(run, end);
      }
    } finally {
      // A brief run's lease ends as the run closes: the lease is started with the parent-close
      // policy REQUEST_CANCEL and takes that cancellation as its release (agent-lease.ts),
      // nine events fewer here. The lease is held through the rollback either way.
      if (!run.brief) await releaseAgentLease(taken.lease);
    }
    return finish(run, outcome);
  });
}

/**
 * Before stage 1: does the agent already have this change (another run of the plan applied
 * it, or left part of it accepted as is)? Null when it has none of it; 'aborted' when an abort
 * came first; otherwise why the agent is left alone. A marker it cannot read is no licence to
 * apply over it.
 */
async function changeAlreadyOnAgent(run: MigrationRun): Promise<string | 'aborted' | null> {
  const { agent, input } = run;
  try {
    const r = await run.work.run(() => run.m.readMarkers(`does ${agent} already have ${input.change}? (before stage 1)`, { agent, change: input.change, stages: [1, 2, 3] }));
    return whyLeftAlone(agent, input.change, r);
  } catch (err) {
    if (isCancellation(err) && run.status.abort) return 'aborted';
    const message = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return `could not read ${agent}'s markers of ${input.change} before stage 1 (${message}); nothing applied`;
  }
}

/** The strategy's steps in order, in the scope an abort cancels. */
async function runSteps(run: MigrationRun): Promise<StepsEnd> {
  try {
    return await run.work.run(async () => {
      const steps = migrationSteps(run.status.strategy, run.input.timings);
      const { deadlines, baselineSamples } = run.input.timings;
      let stageWatch: DeadlineWatch | null = null;
      for (let i = 0; i < steps.length; i++) {
        const watches = deadlinesForStep(steps, i, Date.now(), deadlines, { baselineSamples, sampleIntervalMs: run.input.thresholds.sampleIntervalMs }, stageWatch);
        stageWatch = watches.stage;
        const end = await withDeadlines(run, [watches.step, watches.stage], () => runStep(run, steps[i]!));
        if (end) return end;
      }
      return { kind: 'migrated' } as const;
    });
  } catch (err) {
    const a = run.status.abort;
    if (isCancellation(err) && a) return { kind: 'aborted', why: `aborted at level ${a.level} by ${a.by}${a.reason ? `: ${a.reason}` : ''}` };
    if (isCancellation(err) && run.deadlineRollback) return { kind: 'deadline', why: run.deadlineRollback };
    // An action that failed for good (retries spent) may leave the agent half-migrated: undo.
    const message = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return { kind: 'failed', message };
  }
}

async function finish(run: MigrationRun, outcome: MigrationOutcome): Promise<AgentMigrationResult> {
  const { status, agent, machine, input } = run;
  status.outcome = outcome;
  if (run.lean) run.setState('done', [{ key: searchAttributes.outcome, value: outcome }]);
  else {
    run.setState('done');
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }]);
  }
  const left = outcome === 'accepted-as-is' ? ` (stages ${status.stagesApplied.join(', ')} left in place by ${status.rollback?.changes[0]?.resolutions.at(-1)?.by ?? 'a person'})` : '';
  // A brief run that simply migrated keeps the memo its week gave it (agent, machine, change,
  // risk, strategy): its outcome attribute and its result say "migrated", and the event is saved.
  // Any other end is told in words, with its trigger or the stages left.
  if (!(run.brief && outcome === 'migrated' && !status.trigger)) {
    upsertMemo({ summary: `${agent} on ${machine}: ${input.change} ${outcome}${left}${status.trigger ? ` (${status.trigger.kind}: ${status.trigger.detail})` : ''}` });
  }
  run.notify.emit(`migration.${outcome}`, { trigger: status.trigger, rollbackMs: status.rollback?.durationMs, stagesApplied: status.stagesApplied });
  await publishAllAndSettle(run.notify);
  return { ...status, outcome };
}

/** A migration's input as written by hand, checked by config/schema/migration-input.ts. */
function parseByHand(given: unknown): { ok: true; value: AgentMigrationInput } | { ok: false; problem: string } {
  const inputs = migrationInputs();
  return inputs.parseInput(inputs.agentMigrationInputSchema, given);
}
