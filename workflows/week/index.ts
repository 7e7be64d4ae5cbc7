// One week of a phase: its messages (input, status, queries, updates) and the workflow.
export * from './messages';
export { weekWorkflow } from './workflow';
export { weekMachines } from './link-watch';
