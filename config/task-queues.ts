/**
 * Task queues, named in one place: workflows schedule a machine's activities on it, and that
 * machine's worker polls it (workers/machine-worker.ts). The control worker's queue, which
 * runs the workflows, is the deployment's `controlTaskQueue`. Pure: workflows import it.
 */
export const machineTaskQueue = (machine: string): string => machine;
