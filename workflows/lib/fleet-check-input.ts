import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { ControlActivities } from '../../activities/control';

const control = proxyActivities<ControlActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumInterval: '10 seconds' } });

/**
 * Fails the workflow, before any action, if its steps name agents or operations the fleet's
 * configuration does not have (the control worker holds it): an input written by hand meets
 * the same checks as a plan the CLI compiled.
 */
export async function refuseStepsUnknownToFleet(kind: string, weeks: Parameters<ControlActivities['checkStepsAgainstFleet']>[0]['weeks']): Promise<void> {
  const problems = await control.checkStepsAgainstFleet.executeWithOptions(
    { startToCloseTimeout: '30 seconds', retry: { maximumInterval: '10 seconds' }, summary: 'check the input against the fleet\'s inventory and catalogues' },
    [{ weeks }],
  );
  if (problems.length) throw ApplicationFailure.nonRetryable(`${kind} input refused before any action: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, 'InvalidInput');
}
