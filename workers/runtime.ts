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
 * Installs the SDK runtime once per process: pino for its logs, and graceful shutdown on
 * SIGINT/SIGTERM (the worker stops polling, lets running tasks finish, then resolves run()).
 */
export function installRuntime(logger: Logger): void {
  Runtime.install({ logger: new PinoSdkLogger(logger), shutdownSignals: ['SIGINT', 'SIGTERM'] });
}

export async function connectWorker(deployment: Deployment): Promise<{ connection: NativeConnection; namespace: string }> {
  const target = temporalTarget(deployment);
  const connection = await NativeConnection.connect({
    address: target.address,
    ...(target.tls ? { tls: target.tls } : {}),
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
  });
  return { connection, namespace: target.namespace };
}
