import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Secrets that may sit in configuration or requests: alert webhooks (their URLs carry tokens),
 * API keys, passwords, credentials. Whatever logs them, they come out as "[REDACTED]".
 */
export const redactedPaths = [
  'webhooks',
  '*.webhooks',
  '*.*.webhooks',
  'alertWebhooks',
  '*.alertWebhooks',
  'webhook',
  '*.webhook',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  'nkeySeed',
  '*.nkeySeed',
];

/** One structured stream per process: JSON lines on stderr, so stdout stays for results. */
export function createLogger(name: string, level: string, destination: DestinationStream = pino.destination(2)): Logger {
  return pino({ name, level, base: { pid: process.pid, component: name }, redact: { paths: redactedPaths, censor: '[REDACTED]' } }, destination);
}
