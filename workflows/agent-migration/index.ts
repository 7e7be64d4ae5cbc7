// One agent's migration: its messages (input, status, queries, updates) and the workflow.
export * from './messages';
export { agentMigrationWorkflow } from './workflow';
