import { CancellationScope, upsertSearchAttributes } from '@temporalio/workflow';
import type { MachineCallOptions } from './lib/machine';
import { searchAttributes } from './lib/visibility';
import { MachineHandedBack, UndoHandedBack, undoChange, type AppliedChange, type ChangeRollback, type RollbackLevel, type UndoResume } from './rollback/engine';

/**
 * Part of a week's or phase's rollback: the undos of up to `history.undosPerChild` changes on
 * one machine, newest first, each with the same rules and idempotency keys as in the rollback's
 * own workflow (workflows/rollback/engine.ts). It keeps the parent's history short whatever the
 * fleet's size (workflows/rollback/children.ts). It asks nobody and holds for nothing: an undo
 * that needs a person, or a machine that takes no task, ends it, and the parent carries that
 * undo on where it stands (alert, a person, the machine hold), then starts the next part.
 */
export interface RollbackChunkInput {
  phase: string;
  week?: string;
  level: RollbackLevel;
  label: string;
  keyPrefix: string;
  responseThresholdMs: number;
  machine: Pick<MachineCallOptions, 'queueWaitMs' | 'retry'>;
  /** Newest first, all on one machine. */
  changes: AppliedChange[];
}

export interface RollbackChunkResult {
  /** How each change ended, in the order of `changes`, up to the first handed back. */
  done: ChangeRollback[];
  /** The undo of the next change, where it stands, for the parent to carry on. */
  handedBack: UndoResume | null;
}

export function rollbackChunkWorkflow(input: RollbackChunkInput): Promise<RollbackChunkResult> {
  upsertSearchAttributes([
    { key: searchAttributes.phase, value: input.phase },
    ...(input.week ? [{ key: searchAttributes.week, value: input.week }] : []),
    { key: searchAttributes.machine, value: input.changes[0]?.machine ?? '' },
  ]);
  // Like the rollback it is part of, nothing cancels it.
  return CancellationScope.nonCancellable(async () => {
    const scope = {
      level: input.level,
      label: input.label,
      keyPrefix: input.keyPrefix,
      responseThresholdMs: input.responseThresholdMs,
      machine: {
        ...input.machine,
        whenUnreachable: (u: Parameters<NonNullable<MachineCallOptions['whenUnreachable']>>[0]) => Promise.reject(new MachineHandedBack(u)),
      },
    };
    const done: ChangeRollback[] = [];
    for (const c of input.changes) {
      try {
        done.push(await undoChange(c, scope));
      } catch (err) {
        if (err instanceof UndoHandedBack) return { done, handedBack: err.resume };
        throw err;
      }
    }
    return { done, handedBack: null };
  });
}
