import { parseArgs } from 'node:util';
import { Runtime, Worker } from '@temporalio/worker';
import path from 'node:path';
import { createMachineActivities } from '../activities/machine';
import { useCommandLedger } from '../activities/machine/process-group';
import { findGpuCommandProblem } from '../activities/machine/probes';
import { configDirFrom } from '../config/environment';
import { ConfigError, loadConfig } from '../config/load';
import { createLogger } from '../lib/logger';
import { connectNats, subjects } from '../lib/nats';
import type { NatsConnection } from 'nats';
import { projectRoot } from '../lib/paths';
import { machineTaskQueue } from '../lib/temporal';
import { exitWhenParentDies } from '../lib/parent-watch';
import { connectWorker, installRuntime } from './runtime';

/**
 * The activity worker of one machine: `node dist/workers/machine-worker.js --machine pc2`.
 * It serves only that machine's task queue and runs only that machine's catalogue.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { machine: { type: 'string' }, config: { type: 'string' }, 'exit-with-parent': { type: 'boolean', default: false } } });
  const config = loadConfig(configDirFrom(values.config));
  const machine = values.machine;
  const known = config.inventory.machines.map((m) => m.name);
  if (!machine || !known.includes(machine)) {
    throw new ConfigError('--machine', [{ field: 'machine', reason: `${machine ? `unknown machine "${machine}"` : 'missing'} (known: ${known.join(', ')})` }]);
  }
  // A catalogue that asks for GPU probes on a machine without nvidia-smi would read "no data"
  // in every window: refuse to start, naming the file and the field, before taking any task.
  const catalogueFile = path.join(config.configDir, config.deployment.catalogues[machine]!);
  const gpuProblem = findGpuCommandProblem(config.catalogues[machine]!);
  if (gpuProblem) throw new ConfigError(catalogueFile, [{ field: 'probes.gpu', reason: gpuProblem.replace(/^probes\.gpu: /, '') }]);
  // A simulated machine's load, on a deployment without the simulator, would be no data in every window.
  if (config.catalogues[machine]!.probes.load === 'simulator' && !config.deployment.simulator.enabled) {
    throw new ConfigError(catalogueFile, [{ field: 'probes.load', reason: `"simulator", but this deployment runs no simulator (${config.deploymentFile}: simulator.enabled is false); a real machine reads "load-average"` }]);
  }
  const logger = createLogger(`worker-${machine}`, config.deployment.logLevel);
  const metricsAt = installRuntime(logger, config.deployment, machine);
  // Commands a previous run of this worker left running (it was SIGKILLed mid-command) are
  // stopped before this one takes any task: an orphan must not land after a retry or an undo.
  const { reaped } = useCommandLedger(path.resolve(projectRoot, config.deployment.dataDir, 'run', `commands-${machine}.json`));
  if (reaped) logger.warn({ reaped }, 'stopped command process groups left running by a previous run of this worker');
  const sim = config.deployment.simulator;
  // For the simulated fleet's own commands (simulator/nvidia-smi.ts): which simulator and machine.
  if (sim.enabled) {
    process.env.PHASEGATE_SIMULATOR_ADMIN ??= `http://${sim.adminHost}:${sim.adminPort}`;
    process.env.PHASEGATE_MACHINE ??= machine;
  }
  // Connected on first use: a worker starts (and runs actions) while NATS is away.
  let nats: Promise<NatsConnection> | null = null;
  const natsOnce = () => (nats ??= connectNats(config.deployment, `phasegate-worker-${machine}`));
  const activities = createMachineActivities({
    machine,
    inventory: config.inventory,
    catalogue: config.catalogues[machine]!,
    values: { node: process.execPath, projectRoot, machine, simulatorAdmin: `http://${sim.adminHost}:${sim.adminPort}` },
    logger,
    nats: natsOnce,
    meter: metricsAt ? Runtime.instance().metricMeter : null,
  });
  // This machine's own heartbeat: the control machine watches the link to it by this.
  let beatSeq = 0;
  const beat = setInterval(() => {
    void natsOnce()
      .then((nc) => nc.publish(subjects.machineHeartbeat(machine), JSON.stringify({ machine, seq: ++beatSeq, ts: Date.now() })))
      .catch(() => undefined);
  }, config.inventory.heartbeats.machineIntervalMs);
  const { connection, namespace } = await connectWorker(config.deployment);
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: machineTaskQueue(machine),
    activities,
    identity: `phasegate-${machine}@${process.pid}`,
    // Probes and windows are long and I/O bound; actions are child processes.
    maxConcurrentActivityTaskExecutions: 100,
    // On SIGTERM: stop polling, let running commands finish for this long, then cancel them
    // (each command's process group is stopped) so nothing outlives the worker.
    shutdownGraceTime: config.deployment.workers.shutdownGraceMs,
  });
  logger.info({ machine, taskQueue: machineTaskQueue(machine), namespace }, 'machine worker polling');
  process.stdout.write(`${JSON.stringify({ ready: true, machine })}\n`);
  if (values['exit-with-parent']) exitWhenParentDies(() => worker.shutdown());
  await worker.run();
  clearInterval(beat);
  const opened = nats as Promise<NatsConnection> | null;
  if (opened) await (await opened).drain().catch(() => undefined);
  await connection.close();
  logger.info('machine worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`machine-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
