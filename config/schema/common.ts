import { z } from 'zod';

/**
 * Names of agents, machines, hubs, changes and steps. Deliberately narrow: these names end
 * up in workflow ids, NATS subjects and command arguments, so no shell metacharacters, no
 * path separators, no whitespace.
 */
export const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must start with a letter and use only letters, digits, "_", "." or "-" (at most 64 characters)');

export const port = z.number().int().min(1).max(65535);

/** A loopback or private host name / IPv4 address where a machine's services listen. */
export const host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name or IPv4 address');

export const rating = z.enum(['low', 'medium', 'high']);
export type Rating = z.infer<typeof rating>;

export const durationMs = z.number().int().min(0).max(30 * 24 * 3600 * 1000, 'must be at most 30 days');

/** A person's name as decisions carry it in `by` and plans and the deployment list it. */
export const personName = z
  .string()
  .min(1)
  .max(200)
  .refine((n) => n.trim() === n && !/[\n\r]/.test(n), 'no leading or trailing spaces, one line');
