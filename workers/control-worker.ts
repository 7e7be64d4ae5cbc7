import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { Worker } from '@temporalio/worker';
import { createControlActivities } from '../activities/control';
import { configDirFrom } from '../config/environment';
import { loadConfig } from '../config/load';
import { createLogger } from '../lib/logger';
import { connectNats, ensureStreams } from '../lib/nats';
import { exitWhenParentDies } from '../lib/parent-watch';
import { connectWorker, installRuntime } from './runtime';
import { ensureSearchAttributes } from './search-attributes';
import { controlWorkerVersioning } from './versioning';
import { workflowBundle } from './workflow-bundle';

// TurboFan's escape analysis, optimizing one function of the workflow code, once took 380 MB
// of compiler memory in a single job: the control worker's whole burst over 500 MB at 1,000
// agents (heaptrack's trace, bench/RESULTS.md, "the burst found"). The flag is process-wide, so
// it holds for the workflow threads too, and it is set here rather than on each command line
// (lib/stack.ts, docker-compose.yml) so that no stack can start the worker without it.
setFlagsFromString('--no-turbo-escape');
// The workflow threads' young generation: V8 lets each of its two semi-spaces grow to 16 MiB;
// capped at 4 MiB, the worker at 1,000 agents peaked 26 MB lower and sat 39 MB lower in the median,
// and was not slower (bench/RESULTS.md, "the young generation"). Set before
// Worker.create starts the workflow threads, whose isolates read it when they are made; the
// main thread's heap was sized at start-up and keeps V8's default.
setFlagsFromString('--max-semi-space-size=4');

/** The control worker: runs every workflow, and publishes events and alerts to JetStream. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, 'exit-with-parent': { type: 'boolean', default: false } } });
  const config = loadConfig(configDirFrom(values.config));
  const logger = createLogger('worker-control', config.deployment.logLevel);
  installRuntime(logger, config.deployment, 'control');
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (stopping = true));
  const nc = await connectNats(config.deployment, 'phasegate-control-worker');
  await ensureStreams(nc, config.deployment);
  const { connection, namespace } = await connectWorker(config.deployment);
  await ensureSearchAttributes(config.deployment, logger);
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: config.deployment.controlTaskQueue,
    workflowBundle: await workflowBundle(logger),
    activities: createControlActivities({
      js: nc.jetstream(),
      fleet: { inventory: config.inventory, catalogues: config.catalogues },
      shuttingDown: () => stopping,
      nats: nc,
      links: { machines: config.inventory.machines.map((m) => m.name), silentAfterMs: config.inventory.heartbeats.linkSilentAfterMs },
      logger,
      alertWebhooks: { 1: config.deployment.alerts.webhooks.level1, 2: config.deployment.alerts.webhooks.level2, 3: config.deployment.alerts.webhooks.level3 },
    }),
    identity: `phasegate-control@${process.pid}`,
    ...controlWorkerVersioning(config.deployment),
    shutdownGraceTime: config.deployment.workers.shutdownGraceMs,
    ...(config.deployment.workers.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.deployment.workers.maxCachedWorkflows } : {}),
    ...(config.deployment.workers.stickyQueueTimeoutMs !== undefined ? { stickyQueueScheduleToStartTimeout: config.deployment.workers.stickyQueueTimeoutMs } : {}),
  });
  logger.info({ taskQueue: config.deployment.controlTaskQueue, namespace }, 'control worker polling');
  process.stdout.write(`${JSON.stringify({ ready: true, machine: 'control' })}\n`);
  // Benches (bench/scale.ts) ask for the worker's memory by kind, to tell V8's heap from the
  // buffers and native memory outside it: one JSON line every PHASEGATE_MEMORY_REPORT_MS.
  const memoryReportMs = Number(process.env.PHASEGATE_MEMORY_REPORT_MS ?? 0);
  if (memoryReportMs > 0) setInterval(() => process.stdout.write(`${JSON.stringify({ memoryOf: 'worker-control', at: new Date().toISOString(), ...process.memoryUsage() })}\n`), memoryReportMs).unref();
  if (values['exit-with-parent']) {
    exitWhenParentDies(() => {
      stopping = true;
      worker.shutdown();
    });
  }
  await worker.run();
  await nc.drain().catch(() => undefined);
  await connection.close();
  logger.info('control worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`control-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
