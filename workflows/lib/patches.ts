/**
 * patched() ids of changes that altered what workflows do. Histories recorded before a patch
 * replay on the code of their time (test/fixtures/histories keeps them; the replay test proves
 * it); new runs take the new path.
 */

/**
 * Run-scoped workflow ids and idempotency keys, the one rollback engine, agent leases.
 * Workflows that began before it run on workflows/legacy/v1 until they end; once none does,
 * that folder and this branch can go (deprecatePatch first, then removal).
 */
export const runScopedPatch = 'run-scoped-rollback-engine';
