import { CancellationScope, getExternalWorkflowHandle, isCancellation, startChild, workflowInfo } from '@temporalio/workflow';
import { validationWorkflow } from '../../validation';
import type { WeekRun } from '../run';
import type { WeekStep } from '../messages';
import type { StepEnd } from './index';

/** The validation (168 h in the seeds) as a child workflow; its KPIs feed the gate. An abort cancels it (it only reads). */
export async function validate(run: WeekRun, step: WeekStep): Promise<StepEnd> {
  const v = step.validate!;
  const workflowId = `${workflowInfo().workflowId}.${step.id}`;
  // Started outside the scope an abort cancels (a start cancelled between its request and its
  // confirmation may never resolve; see agent-lease.ts), then awaited inside it; an abort asks
  // the running validation to cancel.
  const done = await CancellationScope.nonCancellable(() =>
    startChild(validationWorkflow, { workflowId, args: [v], staticSummary: `${Math.round(v.durationMs / 3_600_000)}-hour validation of ${v.fleet.length} agents and hubs (${step.id})` }),
  )
    .then((child) =>
      run.interruptible.run(() => child.result()).catch(async (err: unknown) => {
        if (isCancellation(err)) await getExternalWorkflowHandle(workflowId).cancel().catch(() => undefined);
        throw err;
      }),
    )
    .catch((err: unknown) => {
      if (isCancellation(err) && run.aborted) return null;
      // The validation only reads; its failure leaves the gate without KPIs (its criteria unmet), not the week failed.
      run.notify.alert(2, `${run.label}: validation ${step.id} ended without a report`, String(err));
      return null;
    });
  if (!done) return null;
  const { report } = done;
  run.status.validation = {
    workflowId,
    verdict: report.verdict,
    uptimePercent: report.kpis.find((k) => k.id === 'system-uptime')?.value ?? null,
    reason: report.reason,
    kpis: report.kpis.map((k) => ({ id: k.id, name: k.name, verdict: k.verdict, detail: k.detail })),
  };
  run.notify.emit('validation.done', { step: step.id, verdict: report.verdict, reason: report.reason });
  return null;
}
