import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, getExternalWorkflowHandle, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { lineHoldSignal, type LineHold } from './lib/steering';
import { Notifier } from './lib/notify';

/**
 * Stop the line (docs/operating.md, "Freezes and deploy windows"): one workflow, `phasegate.line`,
 * holds the freeze that `phasegate freeze` sets and `phasegate unfreeze` lifts, and passes it to
 * every running phase, which passes it to its week and its migrations: no new migration, stage
 * or operation starts while frozen; what runs finishes its current stage and holds. A phase
 * registers as it starts (phase.ts); the CLI's freeze also registers the phases running then.
 */
export const lineWorkflowId = 'phasegate.line';

export interface LineStatus {
  frozen: LineHold | null;
  /** Phases that registered and have not ended, by workflow id. */
  phases: string[];
  /** Freezes and unfreezes, newest last (the last 50). */
  log: Array<{ action: 'freeze' | 'unfreeze'; by: string; reason?: string; at: string }>;
}

export const freezeSignal = defineSignal<[{ by: string; reason: string; phases?: string[] }]>('freeze');
export const unfreezeSignal = defineSignal<[{ by: string; reason?: string }]>('unfreeze');
export const registerPhaseSignal = defineSignal<[{ workflowId: string }]>('registerPhase');
export const lineStatusQuery = defineQuery<LineStatus>('status');

const text = (v: unknown, max: number) => typeof v === 'string' && v.trim() !== '' && v.length <= max;

export async function lineWorkflow(carried?: LineStatus): Promise<void> {
  const status: LineStatus = carried ?? { frozen: null, phases: [], log: [] };
  const notify = new Notifier({});
  const tell = async (phase: string) => {
    // A phase that has ended cannot be told; it is dropped from the line.
    await getExternalWorkflowHandle(phase)
      .signal(lineHoldSignal, { hold: status.frozen })
      .catch(() => void (status.phases = status.phases.filter((p) => p !== phase)));
  };
  const register = async (ids: readonly string[]) => {
    for (const id of ids) {
      if (!text(id, 400) || status.phases.includes(id)) continue;
      status.phases.push(id);
      // Told at once, frozen or not: a phase waits for this answer before its first week.
      await tell(id);
    }
  };
  setHandler(lineStatusQuery, () => status);
  setHandler(registerPhaseSignal, async (r) => void (r && (await register([r.workflowId]))));
  setHandler(freezeSignal, async (f) => {
    if (!f || !text(f.by, 200) || !text(f.reason, 2000)) return;
    status.frozen = { by: f.by, reason: f.reason, at: new Date().toISOString() };
    status.log = [...status.log, { action: 'freeze' as const, by: f.by, reason: f.reason, at: status.frozen.at }].slice(-50);
    notify.alert(2, `the line is frozen by ${f.by}`, `${f.reason}; no migration, stage or operation starts in any phase until \`phasegate unfreeze\``);
    upsertMemo({ summary: `FROZEN by ${f.by}: ${f.reason}` });
    await register(Array.isArray(f.phases) ? f.phases : []);
    await Promise.all(status.phases.map(tell));
  });
  setHandler(unfreezeSignal, async (u) => {
    if (!u || !text(u.by, 200) || !status.frozen) return;
    status.frozen = null;
    status.log = [...status.log, { action: 'unfreeze' as const, by: u.by, ...(typeof u.reason === 'string' ? { reason: u.reason.slice(0, 2000) } : {}), at: new Date().toISOString() }].slice(-50);
    notify.alert(1, `the line is open again (unfrozen by ${u.by})`, 'phases carry on where they held');
    upsertMemo({ summary: 'open' });
    await Promise.all(status.phases.map(tell));
  });
  // The line lives as long as phasegate does: a new run once its history is long, with its state.
  await condition(() => workflowInfo().historyLength > 2000);
  await condition(allHandlersFinished);
  await continueAsNew<typeof lineWorkflow>(status);
}
