import pino, { type Logger } from 'pino';

export type { Logger };

/** One structured stream per process: JSON lines on stderr, so stdout stays for results. */
export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid, component: name } }, pino.destination(2));
}
