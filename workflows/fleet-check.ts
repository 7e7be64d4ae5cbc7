import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control';
import type { MachineDescription } from '../activities/machine';
import { onMachine } from './lib/machine';

/** Input of fleetCheckWorkflow: which machines' workers to reach. */
export interface FleetCheckInput {
  machines: string[];
}

/** What each machine reported, and where the completion event landed in JetStream. */
export interface FleetCheckResult {
  machines: MachineDescription[];
  event: { stream: string; seq: number };
}

const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Reaches every machine's activity worker on its own task queue and records the answer as an
 * event in JetStream: the smallest proof that the whole chain (server, control worker,
 * machine workers, NATS) is up.
 */
export async function fleetCheckWorkflow(input: FleetCheckInput): Promise<FleetCheckResult> {
  const machines = await Promise.all(input.machines.map((machine) => onMachine(machine).describeMachine(`describe ${machine}: load, memory, agents`)));
  const { workflowId, runId } = workflowInfo();
  const ack = await control.publishEvent({
    id: `${workflowId}:${runId}:fleet-check.completed`,
    workflowId,
    kind: 'fleet-check.completed',
    at: new Date().toISOString(),
    data: { machines: machines.map((m) => ({ machine: m.machine, load1: m.load1, agents: m.agents })) },
  });
  return { machines, event: { stream: ack.stream, seq: ack.seq } };
}
