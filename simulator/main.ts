import { parseArgs } from 'node:util';
import { configDirFrom } from '../config/environment';
import { ConfigError, loadConfig } from '../config/load';
import { createLogger } from '../lib/logger';
import { connectNats, ensureStreams } from '../lib/nats';
import { FleetSimulator } from './server';
import { exitWhenParentDies } from '../lib/parent-watch';

/**
 * Entry point: `node dist/simulator/main.js [--config DIR] [--machines mainpc,pc2] [--journal FILE]`.
 * With a journal the simulated fleet survives a restart of the simulator (server.ts).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, machines: { type: 'string' }, journal: { type: 'string' }, 'exit-with-parent': { type: 'boolean', default: false } } });
  const config = loadConfig(configDirFrom(values.config));
  const logger = createLogger('simulator', config.deployment.logLevel);
  const all = config.inventory.machines.map((m) => m.name);
  const machines = values.machines ? values.machines.split(',') : all;
  for (const m of machines) {
    if (!all.includes(m)) throw new ConfigError('--machines', [{ field: m, reason: `unknown machine (known: ${all.join(', ')})` }]);
  }
  const nc = await connectNats(config.deployment, `phasegate-simulator-${machines.join('-')}`);
  await ensureStreams(nc, config.deployment);
  const sim = new FleetSimulator({
    inventory: config.inventory,
    machines,
    adminHost: config.deployment.simulator.adminHost,
    adminPort: config.deployment.simulator.adminPort,
    failoverDetectMs: config.deployment.simulator.failoverDetectMs,
    nats: nc,
    logger,
    ...(values.journal ? { journalFile: values.journal } : {}),
  });
  await sim.start();
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'simulator shutting down');
    await sim.stop();
    await nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  if (values['exit-with-parent']) exitWhenParentDies(() => shutdown('parent gone'));
  // Tells a parent process (the demo, the test harness) that every port is open.
  process.stdout.write(`${JSON.stringify({ ready: true, admin: sim.adminUrl })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
