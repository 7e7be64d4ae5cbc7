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

/**
 * A migration reads its agent's markers of the change before stage 1 and leaves an agent that
 * already has it alone (outcome "refused"): the change belongs to the run that applied it, so a
 * second run of the same plan neither claims it nor undoes it under the first one's record.
 */
export const changeAlreadyOnAgentPatch = 'refuse-change-already-on-agent';

/**
 * The baseline runs the integration check and compares GPU memory and load with the limits
 * before stage 1 (decisions/preflight.ts); an agent or machine already unhealthy waits for a
 * person (retry, skip, proceed) instead of being migrated and rolled back for what it did not cause.
 */
export const preflightPatch = 'preflight-before-stage-1';

/**
 * A migration's history kept short (about half the events of a no-op migration): a stage's
 * backup, apply and marker check run as one activity (runActions), its events are published
 * by a local activity first (lib/notify.ts), and the status search attribute is written only
 * when it changes.
 */
export const leanMigrationPatch = 'lean-migration-history';

/**
 * A week's and a phase's rollback undo their changes in child workflows (rollbackChunkWorkflow),
 * machines in parallel, a bounded number of changes per child (workflows/rollback/children.ts):
 * before it, every undo of a rollback ran one after another in the rollback's own history.
 */
export const rollbackInChildrenPatch = 'rollback-in-child-workflows';

/**
 * Before a workflow ends or hands over to a new run, the events that a signal handler emitted
 * while the workflow waited for its handlers to finish are published too (notify.ts
 * publishAllAndSettle): a pause arriving as the week handed over to a new run lost its
 * "week.paused" event. Asked only when there are such events, so other histories carry no marker.
 */
export const publishLateEventsPatch = 'publish-events-of-late-handlers';

/**
 * A migration's history shorter still: the markers read before stage 1 and the baseline are
 * one activity (prepareMigration), and the events of one workflow task are published together
 * by one local activity (notify.ts, batchInTask). A compact run has every earlier patch and
 * asks for none of them.
 */
export const compactMigrationPatch = 'compact-migration-history';

/**
 * A week starts each migration with the migration's search attributes and memo set
 * (agent-migration/visibility.ts) and says so in its input (`startedWithAttributes`): the
 * migration skips its own first upserts and its patch markers, four events fewer each. Asked in
 * the week as each migration starts (the first call of a run records the marker), so a week's
 * history from before it replays as it ran; a week running when the workers are upgraded starts
 * its later migrations the new way. A build from before it cannot take such a migration
 * (its input schema does not know the field): do not roll workers back past it while weeks run.
 */
export const migrationsStartWithAttributesPatch = 'migrations-start-with-their-attributes';

/*
 * The brief history (no patch asked): a week that starts its migrations with their attributes
 * (above) also sets their status search attribute to "migrating" and says `briefHistory` in
 * their input (agent-migration/messages.ts). Such a migration keeps "migrating" through its
 * baseline, stages and verifications (the status query and the Web UI's current details name
 * the state and stage; agent-migration/run.ts, setState), and does not release its agent's
 * lease by signal: the lease ends as the run closes (agent-lease.ts). A migration started
 * without the flag (by a week from before, or by hand) runs as before, so the histories of
 * runs begun before it replay unchanged. Like `startedWithAttributes`, a build from before it
 * cannot take such an input: do not roll workers back past it while weeks run.
 */

/**
 * A migration that asks for its agent's lease while the lease is closing (released, telling
 * its waiters the agent is free) is told "freed", not "held": it arrived after the waiters were
 * told, and would otherwise wait out its 10-minute guard for a notice that never came
 * (workflows/agent-lease.ts; test/integration/agent-lease.test.ts). Asked only in that case.
 */
export const leaseFreedWhileClosingPatch = 'lease-freed-while-closing';

/**
 * A phase registers with the line (workflows/line.ts) as it starts, so that a freeze reaches
 * it: one signal to an external workflow, which phases begun before it do not send.
 */
export const joinLinePatch = 'join-the-line';

/**
 * A phase whose plan takes only signed decisions refuses an input that approves every gate by
 * itself (`autoApproveGates`, config/schema/workflow-inputs.ts autoApprovalProblem). Asked only
 * for such an input: phases recorded before it carried one without saying unsigned.
 */
export const signedUnlessUnsignedPatch = 'auto-approval-only-where-unsigned';
