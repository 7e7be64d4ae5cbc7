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
