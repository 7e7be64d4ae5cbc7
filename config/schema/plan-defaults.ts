/**
 * Defaults of a plan's settings that workflows read where an input leaves a setting out, kept
 * free of zod: the workflow bundle loads this for every run, and a schema would cost each run
 * its own copy (workflows/lib/lazy-modules.ts). The schemas (migration-input.ts) default to the
 * same values.
 */

/** How long a week's own history may grow before it carries on in a new run (migration-input.ts historySchema). */
export const historyDefaults = { newRunAfterEvents: 5000, migrationsPerRound: 400, undosPerChild: 150 } as const;

/** Inputs made before the setting existed undo this many at once too. */
export const defaultRollbackUndosAtOncePerMachine = 4;
