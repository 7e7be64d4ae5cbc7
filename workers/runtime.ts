import { NativeConnection, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Deployment } from '../config/schema/deployment';
import type { Logger } from '../lib/logger';
import { temporalTarget } from '../lib/temporal';

/** Routes the SDK's own logs (worker, workflow and activity loggers) into our pino stream. */
class PinoSdkLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fn = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' }[level] as 'info';
    this.logger[fn]({ sdk: true, ...meta }, message);
  }
  trace(message: string, meta?: LogMetadata): void { this.log('TRACE', message, meta); }
  debug(message: string, meta?: LogMetadata): void { this.log('DEBUG', message, meta); }
  info(message: string, meta?: LogMetadata): void { this.log('INFO', message, meta); }
  warn(message: string, meta?: LogMetadata): void { this.log('WARN', message, meta); }
  error(message: string, meta?: LogMetadata): void { this.log('ERROR', message, meta); }
}

/**
 * Installs the SDK runtime once per process: pino for its logs, graceful shutdown on
 * SIGINT/SIGTERM (the worker stops polling, lets running tasks finish, then resolves run()),
 * and, if the deployment gives this worker a port, a Prometheus endpoint at /metrics with the
 * SDK's own metrics and phasegate's (workflows/lib/metrics.ts, activities/machine/probe-metrics.ts).
 * Returns the address it serves metrics on, or null.
 */
export function installRuntime(logger: Logger, deployment: Deployment, worker: string): string | null {
  const port = deployment.metrics.ports[worker];
  const bindAddress = port ? `${deployment.metrics.host}:${port}` : null;
  Runtime.install({
    logger: new PinoSdkLogger(logger),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    ...(bindAddress
      ? {
          telemetryOptions: {
            metrics: {
              // Every series says which worker it came from: one Grafana query covers the fleet.
              globalTags: { phasegate_worker: worker },
              prometheus: { bindAddress, countersTotalSuffix: true, histogramBucketOverrides: histogramBuckets },
            },
          },
        }
      : {}),
  });
  if (bindAddress) logger.info({ bindAddress }, 'Prometheus metrics at /metrics');
  return bindAddress;
}

/** Milliseconds: probes take 1 ms to seconds; a gate waits seconds (demo) to days. */
const histogramBuckets: Record<string, number[]> = {
  phasegate_probe_latency_ms: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  phasegate_gate_wait_ms: [1000, 10_000, 60_000, 300_000, 1_800_000, 3_600_000, 4 * 3_600_000, 24 * 3_600_000, 72 * 3_600_000, 168 * 3_600_000],
};

export async function connectWorker(deployment: Deployment): Promise<{ connection: NativeConnection; namespace: string }> {
  const target = temporalTarget(deployment);
  const connection = await NativeConnection.connect({
    address: target.address,
    ...(target.tls ? { tls: target.tls } : {}),
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
  });
  return { connection, namespace: target.namespace };
}
