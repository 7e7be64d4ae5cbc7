/**
 * Splits the agents of a migrate step into batches: the pilots first (a batch of their own),
 * then batches of `batchSize`, keeping inventory order. Pure.
 */
export function planBatches<T>(agents: readonly T[], pilots: number, batchSize: number): T[][] {
  const batches: T[][] = [];
  const p = Math.min(pilots, agents.length);
  if (p > 0) batches.push(agents.slice(0, p));
  for (let i = p; i < agents.length; i += batchSize) batches.push(agents.slice(i, i + batchSize));
  return batches;
}

export interface BudgetState {
  failedInBatch: number;
  failedInWeek: number;
}

/** Whether a batch or the week has spent more failures than its budget allows. */
export function budgetExceeded(s: BudgetState, budget: { perBatch: number; perWeek: number }): 'batch' | 'week' | null {
  if (s.failedInWeek > budget.perWeek) return 'week';
  if (s.failedInBatch > budget.perBatch) return 'batch';
  return null;
}

/** A part of a batch that runs to its end before the next begins (a week may start a new run between two). */
export interface Round<T> {
  /** Index of its batch. */
  batch: number;
  agents: T[];
  firstOfBatch: boolean;
  lastOfBatch: boolean;
}

/**
 * Splits each batch into rounds of at most `perRound` agents, in order. Each migration adds a
 * few events to the week's history (its start, its end, the workflow tasks between); a week
 * starts a new run of itself between rounds once its history is long (workflows/week/), and
 * only there, where no migration of its own is running. A round smaller than its batch costs
 * the batch's tail: the lanes of the next round start when the last of this one ends. Pure.
 */
export function planRounds<T>(batches: readonly T[][], perRound: number): Round<T>[] {
  const rounds: Round<T>[] = [];
  batches.forEach((agents, batch) => {
    const n = Math.max(1, Math.ceil(agents.length / perRound));
    // Even rounds (not a full one and a remnant): the lanes stay as busy in each.
    const size = Math.ceil(agents.length / n);
    for (let i = 0; i < n; i++) rounds.push({ batch, agents: agents.slice(i * size, (i + 1) * size), firstOfBatch: i === 0, lastOfBatch: i === n - 1 });
  });
  return rounds;
}
