import { executeChild, ParentClosePolicy } from '@temporalio/workflow';
import type { rollbackChunkWorkflow } from '../rollback-chunk';
import { undoChange, type AppliedChange, type RollbackScope, type UndoRunner } from './engine';

/**
 * A week's or phase's rollback, run in child workflows (workflows/rollback-chunk.ts) so that
 * neither its history nor its time grows with the fleet in one line:
 *
 * - an operation (a hub deployed, a failover switched on) may be what migrations on another
 *   machine lean on, so operations stay in the rollback's global order: the migrations newer
 *   than an operation are all undone before it, and it is undone alone, before anything older;
 * - between two operations, each machine's migrations are a lane, and the lanes run at once
 *   (agents on different machines are independent); within a lane the changes go newest first,
 *   as in every rollback;
 * - a lane's changes go to children of at most `perChild` changes each, one after another
 *   (about 27 events per undo: 150 changes stay well under 10,000 events); the rollback's own
 *   history holds a few events per child;
 * - an undo a child hands back (a person must decide, or the machine took no task) is carried
 *   on in the rollback's own workflow with its own alerts, person and machine hold, then the
 *   lane's next child starts after it; persons are asked one question at a time.
 */
export interface ChildUndoOptions {
  /** Ids of the children: `<idPrefix>.<machine>.<n>`. */
  idPrefix: string;
  perChild: number;
  phase: string;
  week?: string;
}

export function undoInChildren(opts: ChildUndoOptions): UndoRunner {
  return async (newestFirst, scope, finish) => {
    const perChild = Math.max(1, opts.perChild);
    // One question to a person at a time: an undo's resolution names no change, so two lanes
    // waiting at once would both take the first answer.
    let personLine: Promise<unknown> = Promise.resolve();
    const inOwnWorkflow: RollbackScope = {
      ...scope,
      askPerson: (p) => {
        const turn = personLine.then(() => scope.askPerson(p));
        personLine = turn.catch(() => undefined);
        return turn;
      },
    };
    // Runs of migrations between operations, and each operation alone, newest first.
    const segments: AppliedChange[][] = [];
    for (const c of newestFirst) {
      const last = segments.at(-1);
      if (c.kind === 'migration' && last?.[0]?.kind === 'migration') last.push(c);
      else segments.push([c]);
    }
    const childrenOn = new Map<string, number>();
    for (const segment of segments) {
      const lanes = new Map<string, AppliedChange[]>();
      for (const c of segment) {
        const lane = lanes.get(c.machine);
        if (lane) lane.push(c);
        else lanes.set(c.machine, [c]);
      }
      await Promise.all(
        [...lanes].map(async ([machine, lane]) => {
          for (let i = 0; i < lane.length; ) {
            const chunk = lane.slice(i, i + perChild);
            const n = (childrenOn.get(machine) ?? 0) + 1;
            childrenOn.set(machine, n);
            const out = await executeChild<typeof rollbackChunkWorkflow>('rollbackChunkWorkflow', {
              workflowId: `${opts.idPrefix}.${machine}.${n}`,
              args: [
                {
                  phase: opts.phase,
                  ...(opts.week ? { week: opts.week } : {}),
                  level: scope.level,
                  label: scope.label,
                  keyPrefix: scope.keyPrefix,
                  responseThresholdMs: scope.responseThresholdMs,
                  machine: { ...(scope.machine.queueWaitMs !== undefined ? { queueWaitMs: scope.machine.queueWaitMs } : {}), ...(scope.machine.retry ? { retry: scope.machine.retry } : {}) },
                  changes: chunk,
                },
              ],
              // A rollback runs to its end: a parent closed meanwhile leaves its part running.
              parentClosePolicy: ParentClosePolicy.ABANDON,
              staticSummary: `level-${scope.level} rollback on ${machine}: ${chunk.length} change${chunk.length === 1 ? '' : 's'} (${i + 1}-${i + chunk.length} of ${lane.length})`,
            });
            out.done.forEach((r, k) => finish(chunk[k]!, r));
            i += out.done.length;
            if (out.handedBack) {
              const c = lane[i]!;
              if (out.handedBack.unreachable) await scope.machine.whenUnreachable?.(out.handedBack.unreachable);
              finish(c, await undoChange(c, inOwnWorkflow, out.handedBack));
              i++;
            }
          }
        }),
      );
    }
  };
}
