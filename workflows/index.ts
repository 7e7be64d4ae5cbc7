// Every workflow type the control worker serves; one workflow per file or folder, named after it.
export { fleetCheckWorkflow } from './fleet-check';
export { agentMigrationWorkflow } from './agent-migration';
export { agentLeaseWorkflow } from './agent-lease';
export { weekWorkflow } from './week';
export { phaseWorkflow } from './phase';
export { validationWorkflow } from './validation';
export { rollbackChunkWorkflow } from './rollback-chunk';
export { lineWorkflow } from './line';
