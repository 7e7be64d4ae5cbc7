// Every workflow type the control worker serves; one workflow per file, named after it.
export { fleetCheckWorkflow } from './fleet-check';
export { agentMigrationWorkflow } from './agent-migration';
