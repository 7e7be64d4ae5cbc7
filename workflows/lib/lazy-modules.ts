import type * as DeploymentSchemas from '../../config/schema/deployment';
import type * as Calendars from '../../decisions/calendar';
import type * as Signatures from '../../decisions/signatures';
import type * as MigrationInputs from '../../config/schema/migration-input';
import type * as WorkflowInputs from '../../config/schema/workflow-inputs';
import type * as PlanSteps from '../../plan/steps';

/*
 * Modules a workflow run loads at its first use, not as the workflow bundle loads.
 *
 * Temporal's reusable V8 context (the SDK's default) keeps a module cache per workflow run: every
 * run held in the control worker's cache holds its own copy of each module it has loaded, and the
 * bundle's entry (workflows/index.ts) loads everything it imports for every run, leases and
 * migrations included. The schemas of a whole plan (workflow-inputs.ts, plan/steps/, the
 * deployment's calendar) cost about 2 MB a run, which at 200 migrations running at once was the
 * control worker's heap (bench/RESULTS.md, "the workflow bundle's schemas"). Only the phase and
 * the week parse a plan, and only a migration started by hand parses its own input
 * (workflows/agent-migration/workflow.ts); a week's migrations take what the week parsed.
 *
 * Each `require` names its module literally, so that webpack puts it in the bundle. Loading is
 * deterministic: the same code in the same order on every replay.
 */

/** The phase's and the week's input schemas (config/schema/workflow-inputs.ts). */
export function workflowInputs(): typeof WorkflowInputs {
  return require('../../config/schema/workflow-inputs') as typeof WorkflowInputs;
}

/** A migration's input schema, for a migration started by hand (config/schema/migration-input.ts). */
export function migrationInputs(): typeof MigrationInputs {
  return require('../../config/schema/migration-input') as typeof MigrationInputs;
}

/** The step kinds (plan/steps/): which kind a step is, and what it touches. */
export function planSteps(): typeof PlanSteps {
  return require('../../plan/steps') as typeof PlanSteps;
}

/** Signed decisions (decisions/signatures.ts, with its Ed25519 library), when a decision comes. */
export function signatures(): typeof Signatures {
  return require('../../decisions/signatures') as typeof Signatures;
}

/** Deploy windows and freezes (decisions/calendar.ts, with its cron and time-zone libraries), for a week with a calendar. */
export function calendars(): typeof Calendars {
  return require('../../decisions/calendar') as typeof Calendars;
}

/** The deployment's schemas, for a calendar sent by signal (config/schema/deployment.ts). */
export function deploymentSchemas(): typeof DeploymentSchemas {
  return require('../../config/schema/deployment') as typeof DeploymentSchemas;
}
