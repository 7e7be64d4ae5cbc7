import { z } from 'zod';
import { host, identifier, port, rating } from './common';
import { riskFactors } from './migration-input';

export { riskFactors };

export const agentCategory = z.enum([
  'model-loading',
  'gpu-compute',
  'gpu-monitoring',
  'core',
  'memory',
  'communication',
  'learning',
  'utility',
  'integration',
]);
export type AgentCategory = z.infer<typeof agentCategory>;

export const agentSchema = z.strictObject({
  name: identifier,
  machine: identifier,
  category: agentCategory,
  /** Port of the agent's HTTP health endpoint on its machine's host. */
  healthPort: port,
  healthPath: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'must be an absolute URL path').default('/health'),
  hub: identifier,
  failoverHub: identifier,
  version: z.string().regex(/^[A-Za-z0-9._+-]{1,40}$/, 'must be a version string such as 1.4.2'),
  source: z
    .strictObject({
      path: z.string().min(1).max(400).optional(),
      sizeKb: z.number().min(0).max(1_000_000).optional(),
    })
    .optional(),
  risk: riskFactors,
  /** An operator's explicit score, kept beside the computed one with the reason. */
  riskOverride: z
    .strictObject({
      score: z.number().min(0).max(40),
      reason: z.string().min(3).max(500),
    })
    .optional(),
});
export type Agent = z.infer<typeof agentSchema>;

export const machineSchema = z.strictObject({
  name: identifier,
  host,
  description: z.string().max(200).optional(),
});
export type Machine = z.infer<typeof machineSchema>;

export const hubSchema = z.strictObject({
  name: identifier,
  machine: identifier,
  port,
});
export type Hub = z.infer<typeof hubSchema>;

export const inventorySchema = z
  .strictObject({
    version: z.literal(1),
    machines: z.array(machineSchema).min(1),
    hubs: z.array(hubSchema),
    pushgateways: z.array(z.strictObject({ machine: identifier, port })).default([]),
    natsServers: z.array(z.strictObject({ name: identifier, machine: identifier, port })).default([]),
    /**
     * How often agents and hubs publish a heartbeat to NATS (`fleet.heartbeat.<machine>.<name>`).
     * The validation judges silence against these intervals, so they are facts of the fleet.
     */
    heartbeats: z
      .strictObject({
        agentIntervalMs: z.number().int().min(100).max(600_000).default(1000),
        hubIntervalMs: z.number().int().min(100).max(600_000).default(1000),
        /** Each machine worker's own heartbeat, by which the control machine watches the links. */
        machineIntervalMs: z.number().int().min(100).max(60_000).default(1000),
        /** docs/domain.md: a cross-machine link silent for over 10 s counts as a failure. */
        linkSilentAfterMs: z.number().int().min(1000).max(3_600_000).default(10_000),
      })
      .refine((h) => h.linkSilentAfterMs >= 3 * h.machineIntervalMs, { path: ['linkSilentAfterMs'], message: 'must be at least 3 machine heartbeat intervals, or one late heartbeat reads as a failed link' })
      .default({ agentIntervalMs: 1000, hubIntervalMs: 1000, machineIntervalMs: 1000, linkSilentAfterMs: 10_000 }),
    agents: z.array(agentSchema).min(1).max(10_000),
  })
  .superRefine((inv, ctx) => {
    const machines = new Set<string>();
    inv.machines.forEach((m, i) => {
      if (machines.has(m.name)) ctx.addIssue({ code: 'custom', path: ['machines', i, 'name'], message: `duplicate machine name "${m.name}"` });
      machines.add(m.name);
    });
    const hubs = new Set<string>();
    inv.hubs.forEach((h, i) => {
      if (hubs.has(h.name)) ctx.addIssue({ code: 'custom', path: ['hubs', i, 'name'], message: `duplicate hub name "${h.name}"` });
      hubs.add(h.name);
      if (!machines.has(h.machine)) ctx.addIssue({ code: 'custom', path: ['hubs', i, 'machine'], message: `unknown machine "${h.machine}" (known: ${[...machines].join(', ')})` });
    });
    const names = new Set<string>(hubs);
    const ports = new Map<string, string>();
    inv.agents.forEach((a, i) => {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'name'], message: hubs.has(a.name) ? `"${a.name}" is already a hub's name (heartbeats are keyed by name)` : `duplicate agent name "${a.name}"` });
      names.add(a.name);
      if (!machines.has(a.machine)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'machine'], message: `unknown machine "${a.machine}" (known: ${[...machines].join(', ')})` });
      for (const field of ['hub', 'failoverHub'] as const) {
        if (!hubs.has(a[field])) ctx.addIssue({ code: 'custom', path: ['agents', i, field], message: `unknown hub "${a[field]}" (known: ${[...hubs].join(', ') || 'none'})` });
      }
      const portKey = `${a.machine}:${a.healthPort}`;
      const holder = ports.get(portKey);
      if (holder) ctx.addIssue({ code: 'custom', path: ['agents', i, 'healthPort'], message: `port ${a.healthPort} on ${a.machine} is already used by "${holder}"` });
      ports.set(portKey, a.name);
      if (a.risk.fileSize === undefined && a.source?.sizeKb === undefined && a.source?.path === undefined) {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'risk', 'fileSize'], message: 'give risk.fileSize, or source.sizeKb / source.path to derive it from' });
      }
    });
  });
export type Inventory = z.infer<typeof inventorySchema>;
