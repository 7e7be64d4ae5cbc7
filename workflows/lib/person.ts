import { CancellationScope, condition, defineSignal, getExternalWorkflowHandle, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { searchAttributes } from './visibility';

/**
 * Waits for a person. Whatever waits (a critical-band stage for its approval, a verification
 * that could not measure, an undo that failed, a read-back that disagrees) is listed in the
 * status of the workflow that waits, of its week and of its phase, with the command that
 * resolves it, and marked by the PhasegateWaitingFor search attribute while it waits, so the
 * Web UI lists every workflow waiting for a person with `PhasegateWaitingFor IS NOT NULL`.
 */

export type PersonWaitKind = 'stage-approval' | 'inconclusive' | 'failed-undo' | 'read-back' | 'pre-flight';

export interface PersonWait {
  /** The workflow that waits, and that the resolving command or update goes to. */
  workflowId: string;
  agent?: string;
  machine?: string;
  what: PersonWaitKind;
  detail: string;
  since: string;
  /** The phasegate command that resolves it. */
  resolve: string;
}

/** From a workflow to its parent (migration to week, week to phase): a person is needed. */
export const personNeededSignal = defineSignal<[PersonWait]>('personNeeded');
/** From a workflow to its parent: the wait is over. */
export const personAnsweredSignal = defineSignal<[{ workflowId: string; what: PersonWaitKind }]>('personAnswered');

/** The command that resolves a wait, for the status, the alert and the CLI. */
export function resolveCommand(what: PersonWaitKind, workflowId: string, stage?: number): string {
  switch (what) {
    case 'stage-approval':
      return `phasegate stage approve|reject ${workflowId} --stage ${stage ?? '<n>'} --reason "..."`;
    case 'inconclusive':
      return `phasegate window retry|accept|rollback ${workflowId} --reason "..."`;
    case 'pre-flight':
      return `phasegate preflight retry|skip|proceed ${workflowId} --reason "..."`;
    case 'failed-undo':
    case 'read-back':
      return `phasegate undo retry|accept ${workflowId} --reason "..."`;
  }
}

/** Signals the parent workflow, if any; a parent already closed is no reason to fail. */
export async function tellParent<A>(signal: ReturnType<typeof defineSignal<[A]>>, arg: A): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent) return;
  await getExternalWorkflowHandle(parent.workflowId)
    .signal(signal, arg)
    .catch(() => undefined);
}

/**
 * The waits a workflow shows: its own, and those its children report (a week lists its
 * migrations', a phase its weeks'), passed on up so the phase lists them all.
 */
export class PersonWaits {
  constructor(private readonly list: PersonWait[]) {}

  /** A child reports a wait: list it and pass it on. */
  async childNeeds(w: PersonWait): Promise<void> {
    this.list.push(w);
    await tellParent(personNeededSignal, w);
  }

  /** A child's wait is over. */
  async childAnswered(a: { workflowId: string; what: PersonWaitKind }): Promise<void> {
    const i = this.list.findIndex((w) => w.workflowId === a.workflowId && w.what === a.what);
    if (i >= 0) this.list.splice(i, 1);
    await tellParent(personAnsweredSignal, a);
  }

  /**
   * This workflow waits for a person until `answered` gives a value: listed, marked for the
   * Web UI, reported to the parent; all undone when the answer comes.
   */
  async wait<T>(w: Omit<PersonWait, 'workflowId' | 'since' | 'resolve'> & { stage?: number }, answered: () => T | null): Promise<T> {
    const { workflowId } = workflowInfo();
    const { stage, ...rest } = w;
    const entry: PersonWait = { ...rest, workflowId, since: new Date().toISOString(), resolve: resolveCommand(w.what, workflowId, stage) };
    this.list.push(entry);
    upsertSearchAttributes([{ key: searchAttributes.waitingFor, value: w.what }]);
    await tellParent(personNeededSignal, entry);
    let answer: T | null = null;
    try {
      await condition(() => (answer = answered()) !== null);
      return answer as T;
    } finally {
      // Answered, or the wait was cancelled (an abort): either way nobody waits any more.
      await CancellationScope.nonCancellable(async () => {
        this.list.splice(this.list.indexOf(entry), 1);
        if (!this.list.some((x) => x.workflowId === workflowId)) upsertSearchAttributes([{ key: searchAttributes.waitingFor, value: null }]);
        await tellParent(personAnsweredSignal, { workflowId, what: w.what });
      });
    }
  }
}
