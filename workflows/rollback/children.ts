import { executeChild, ParentClosePolicy } from '@temporalio/workflow';
import type { rollbackChunkWorkflow } from '../rollback-chunk';
import { undoChange, type AppliedChange, type RollbackScope, type UndoResume, type UndoRunner } from './engine';

/**
 * A week's or phase's rollback, run in child workflows (workflows/rollback-chunk.ts) so that
 * neither its history nor its time grows with the fleet in one line:
 *
 * - an operation (a hub deployed, a failover switched on) may be what migrations on another
 *   machine lean on, so operations stay in the rollback's global order: the migrations newer
 *   than an operation are all undone before it, and it is undone alone, before anything older;
 * - between two operations, each machine's migrations are dealt newest first into
 *   `atOncePerMachine` lanes, and all lanes of all machines run at once (agents are
 *   independent of one another; a rollback of a large fleet would otherwise take one undo
 *   after another per machine); within a lane the changes go newest first, as in every rollback;
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
  /** Children at once on one machine (between operations); 1 keeps strict newest first. */
  atOncePerMachine: number;
  phase: string;
  week?: string;
}

export function undoInChildren(opts: ChildUndoOptions): UndoRunner {
  return async (newestFirst, scope, finish) => {
    const perChild = Math.max(1, opts.perChild);
    const atOnce = Math.max(1, opts.atOncePerMachine);
    // One hold per machine at a time: lanes of the same machine that all find it unreachable
    // wait on the one hold (one alert, one pause) rather than each raising their own.
    const holds = new Map<string, Promise<void>>();
    const holdFor = (u: NonNullable<UndoResume['unreachable']>): Promise<void> => {
      const held = holds.get(u.machine);
      if (held) return held;
      const hold = (scope.machine.whenUnreachable?.(u) ?? Promise.resolve()).finally(() => holds.delete(u.machine));
      holds.set(u.machine, hold);
      return hold;
    };
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
      const byMachine = new Map<string, AppliedChange[]>();
      for (const c of segment) {
        const mine = byMachine.get(c.machine);
        if (mine) mine.push(c);
        else byMachine.set(c.machine, [c]);
      }
      // The i-th change of a machine, newest first, goes to its lane i mod atOncePerMachine.
      const lanes: Array<[string, AppliedChange[]]> = [];
      for (const [machine, mine] of byMachine) {
        const k = Math.min(atOnce, mine.length);
        for (let j = 0; j < k; j++) lanes.push([machine, mine.filter((_, i) => i % k === j)]);
      }
      await Promise.all(
        lanes.map(async ([machine, lane]) => {
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
              if (out.handedBack.unreachable) await holdFor(out.handedBack.unreachable);
              finish(c, await undoChange(c, inOwnWorkflow, out.handedBack));
              i++;
            }
          }
        }),
      );
    }
  };
}
