import type { WorkerOptions } from '@temporalio/worker';
import type { Deployment } from '../config/schema/deployment';

/**
 * The control worker's Worker Versioning options (deployment.json workers.deploymentVersion):
 * it polls as one version of a Worker Deployment, and every workflow it runs is auto-upgrade.
 * Phases run for weeks, so pinning them would keep the old build running for weeks; with
 * auto-upgrade a workflow moves to the deployment's current version at its next task, and the
 * new code replays what the old one recorded because every change to a workflow's commands is
 * behind patched() (workflows/lib/patches.ts; the replay guard checks it). The procedure is in
 * docs/operating.md, "Upgrading phasegate during a phase". Without the setting the worker is
 * unversioned, as before.
 */
export function controlWorkerVersioning(deployment: Pick<Deployment, 'workers'>): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  const v = deployment.workers.deploymentVersion;
  if (!v) return {};
  return { workerDeploymentOptions: { useWorkerVersioning: true, version: { deploymentName: v.deploymentName, buildId: v.buildId }, defaultVersioningBehavior: 'AUTO_UPGRADE' } };
}
