import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * Tells the test (through a sink, which the worker awaits before it completes the workflow
 * task) when a lease sends "leaseFreed": the test then signals another waiter while that task
 * is still open, so the waiter's request reaches the lease after its waiters were told.
 */
export interface LeaseRaceSinks extends Sinks {
  leaseRace: { freedSent(target: string): void };
}

const { leaseRace } = proxySinks<LeaseRaceSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      async signalWorkflow(input, next) {
        if (workflowInfo().workflowType === 'agentLeaseWorkflow' && input.signalName === 'leaseFreed' && input.target.type === 'external') leaseRace.freedSent(input.target.workflowExecution.workflowId ?? '');
        return next(input);
      },
    },
  ],
});
