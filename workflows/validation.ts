import { ApplicationFailure, continueAsNew, defineQuery, setHandler, sleep, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { accumulateWindow, budgetStatus, buildValidationReport, coveredUntil, initialValidationState, type FleetMember, type ValidationParams, type ValidationReport, type ValidationState } from '../decisions/validation';
import { formatDuration } from '../render/durations';
import { renderValidationMarkdown } from '../render/validation';
import { onMachine } from './lib/machine';
import { Notifier } from './lib/notify';
import { searchAttributes } from './lib/visibility';

/** Input of validationWorkflow, version 1 (plan/compile.ts builds it from the inventory). */
export interface ValidationInput {
  version: 1;
  /** A readable name for the report, e.g. "phase2-resilience/week4/task-2K". */
  label: string;
  phase?: string;
  week?: string;
  durationMs: number;
  /** Each machine summarises its heartbeats once per window: the history grows per window. */
  windowMs: number;
  fleet: FleetMember[];
  heartbeats: { agentIntervalMs: number; hubIntervalMs: number };
  uptimeFloorPct: number;
  uptimeTargetPct: number;
  latenessMs: number;
  maxWaitMs: number;
  /** Continue as new once a run's history reaches this many events (the server suggests it at 4096). */
  maxEventsPerRun: number;
  /** Running totals carried over by continue-as-new. */
  carried?: ValidationState;
}

export interface ValidationResult {
  report: ValidationReport;
  markdown: string;
}

/** The report so far (verdict "running" until the end). */
export const validationStatusQuery = defineQuery<ValidationReport>('status');

/**
 * The 168-hour validation: availability of every agent, both hubs and the heartbeat path,
 * from heartbeats summarised window by window on each machine. Ends early with a failed
 * report and a level-2 alert once the error budget is spent.
 */
export async function validationWorkflow(input: ValidationInput): Promise<ValidationResult> {
  if (input.version !== 1) throw ApplicationFailure.nonRetryable(`unsupported input version ${String(input.version)}`, 'InvalidInput');
  const params: ValidationParams = {
    durationMs: input.durationMs,
    agentIntervalMs: input.heartbeats.agentIntervalMs,
    hubIntervalMs: input.heartbeats.hubIntervalMs,
    uptimeFloorPct: input.uptimeFloorPct,
    uptimeTargetPct: input.uptimeTargetPct,
  };
  const notify = new Notifier({ validation: input.label, ...(input.phase ? { phase: input.phase } : {}), ...(input.week ? { week: input.week } : {}) });
  let state = input.carried ?? initialValidationState(input.fleet, Date.now());
  const report = (final: boolean, endedEarly = false) =>
    buildValidationReport(input.label, state, params, { final, endedEarly, runEvents: workflowInfo().historyLength });
  setHandler(validationStatusQuery, () => report(false));
  const machines = Object.keys(state.machines);
  const endAt = state.startedAt + input.durationMs;
  const agents = input.fleet.filter((m) => m.kind === 'agent').length;

  if (!input.carried) {
    upsertSearchAttributes([
      ...(input.phase ? [{ key: searchAttributes.phase, value: input.phase }] : []),
      ...(input.week ? [{ key: searchAttributes.week, value: input.week }] : []),
      { key: searchAttributes.status, value: 'validating' },
    ]);
    notify.emit('validation.started', { hours: input.durationMs / 3_600_000, agents, machines });
  }
  const memo = () => {
    const b = budgetStatus(state, params);
    upsertMemo({ summary: `validation ${input.label}: ${((coveredUntil(state) - state.startedAt) / 3_600_000).toFixed(1)} of ${input.durationMs / 3_600_000} h, uptime ${b.uptimePct} %, error budget ${formatDuration(b.spentMs)} of ${formatDuration(b.budgetMs)} spent` });
  };
  const unreachable = new Set<string>();
  let endedEarly = false;

  while (coveredUntil(state) < endAt) {
    const to = Math.min(coveredUntil(state) + input.windowMs, endAt);
    const wait = to - Date.now();
    if (wait > 0) await sleep(wait, { summary: `validation window to hour ${((to - state.startedAt) / 3_600_000).toFixed(2)}` });
    const due = machines.filter((m) => state.machines[m]!.coveredUntil < to);
    const summaries = await Promise.all(
      due.map((m) => {
        const mine = state.machines[m]!;
        return onMachine(m)
          .summarizeHeartbeats(`heartbeats of ${m}, hour ${((mine.coveredUntil - state.startedAt) / 3_600_000).toFixed(2)} to ${((to - state.startedAt) / 3_600_000).toFixed(2)}`, {
            from: mine.coveredUntil,
            to,
            startSeq: mine.nextSeq,
            seenUpToSeq: mine.readUpToSeq,
            agentIntervalMs: params.agentIntervalMs,
            hubIntervalMs: params.hubIntervalMs,
            latenessMs: input.latenessMs,
            maxWaitMs: input.maxWaitMs,
          })
          .then(
            (w) => {
              unreachable.delete(m);
              return w;
            },
            (err: unknown) => {
              // The machine is not summarised: its span stays open and is read again once it answers.
              if (!unreachable.has(m)) notify.alert(2, `validation ${input.label}: ${m} cannot summarise its heartbeats`, String(err), { machine: m });
              unreachable.add(m);
              return null;
            },
          );
      }),
    );
    for (const w of summaries) if (w) state = accumulateWindow(state, w, params);
    state.windows++;
    const budget = budgetStatus(state, params);
    if (budget.spent) {
      endedEarly = coveredUntil(state) < endAt;
      notify.alert(2, `validation ${input.label} failed: error budget spent`, `${formatDuration(budget.spentMs)} of fleet-wide downtime against a budget of ${formatDuration(budget.budgetMs)}, after ${((coveredUntil(state) - state.startedAt) / 3_600_000).toFixed(1)} h`);
      break;
    }
    if (state.windows % Math.max(1, Math.round(3_600_000 / input.windowMs)) === 0) memo();
    const info = workflowInfo();
    if (info.historyLength >= input.maxEventsPerRun || info.continueAsNewSuggested) {
      state.largestRunEvents = Math.max(state.largestRunEvents, info.historyLength);
      state.runs++;
      await notify.flush();
      await continueAsNew<typeof validationWorkflow>({ ...input, carried: state });
    }
  }

  const final = report(true, endedEarly);
  memo();
  upsertSearchAttributes([
    { key: searchAttributes.status, value: 'done' },
    { key: searchAttributes.outcome, value: final.verdict },
  ]);
  notify.emit('validation.finished', { verdict: final.verdict, reason: final.reason, uptimePct: final.kpis[0]!.value, endedEarly });
  await notify.flush();
  return { report: final, markdown: renderValidationMarkdown(final) };
}
