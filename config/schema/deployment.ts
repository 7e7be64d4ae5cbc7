import { z } from 'zod';
import { calendarProblems, weekdays, type CalendarWindow } from '../../decisions/calendar';
import { publicKeyProblem } from '../../decisions/signatures';
import { host, identifier, personName, port } from './common';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time of day as HH:MM (00:00 to 24:00)');
const instant = z.string().refine((t) => Number.isFinite(Date.parse(t)) && /[zZ]|[+-]\d\d:\d\d$/.test(t), 'an ISO 8601 time with its offset, e.g. 2026-12-24T00:00:00+01:00');
/** A deploy window: days and hours, or a cron expression and how long each opening lasts; one of the two, with errors that say which field. */
const calendarWindowSchema = z
  .strictObject({
    days: z.array(z.enum(weekdays)).min(1).optional(),
    from: hhmm.optional(),
    to: hhmm.optional(),
    cron: z.string().min(1).max(200).optional(),
    forMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  })
  .superRefine((w, ctx) => {
    const byCron = w.cron !== undefined || w.forMinutes !== undefined;
    const byDays = w.days !== undefined || w.from !== undefined || w.to !== undefined;
    if (byCron && byDays) ctx.addIssue({ code: 'custom', message: 'a window is either days with from and to, or cron with forMinutes, not both' });
    const need = byCron ? (['cron', 'forMinutes'] as const) : (['days', 'from', 'to'] as const);
    for (const k of need) if (w[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `required in a ${byCron ? 'cron' : 'days'} window` });
  })
  .transform((w) => w as CalendarWindow);

export const calendarSchema = z
  .strictObject({
    timeZone: z.string().min(1).max(100),
    windows: z.array(calendarWindowSchema).max(50).optional(),
    freezes: z.array(z.strictObject({ from: instant, to: instant, reason: z.string().min(1).max(500) })).max(200).optional(),
  })
  .superRefine((c, ctx) => {
    for (const p of calendarProblems(c)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

const tlsSchema = z.strictObject({
  /** Paths to PEM files; the contents are read at start and never logged. */
  clientCertPath: z.string().min(1),
  clientKeyPath: z.string().min(1),
  serverRootCaPath: z.string().min(1).optional(),
  serverNameOverride: z.string().min(1).optional(),
});

export const deploymentSchema = z.strictObject({
  version: z.literal(1),
  temporal: z.discriminatedUnion('mode', [
    z.strictObject({
      /** phasegate starts the `temporal` CLI's dev server itself (SQLite file under dataDir). */
      mode: z.literal('embedded'),
      host: host.default('127.0.0.1'),
      port: port.default(7233),
      uiPort: port.default(8233),
      namespace: identifier.default('default'),
    }),
    z.strictObject({
      mode: z.literal('external'),
      address: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port'),
      namespace: identifier,
      uiUrl: z.string().url().optional(),
      tls: tlsSchema.optional(),
      apiKeyPath: z.string().min(1).optional(),
    }),
  ]),
  nats: z.discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('embedded'),
      host: host.default('127.0.0.1'),
      port: port.default(4222),
    }),
    z.strictObject({
      mode: z.literal('external'),
      servers: z.array(z.string().regex(/^(nats|tls):\/\/[A-Za-z0-9.-]+:\d{1,5}$/, 'must be nats://host:port or tls://host:port')).min(1),
      /** Replicas of phasegate's streams: 3 on a three-node cluster (config/production/), 1 on a single server. */
      replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
      /** A NATS user credentials file (JWT and seed, from `nsc`), or a user nkey seed file: one or the other. */
      credentialsPath: z.string().min(1).optional(),
      nkeySeedPath: z.string().min(1).optional(),
      /** For tls:// servers signed by a private CA, and for servers that verify clients (PEM files). */
      tls: z
        .strictObject({
          caPath: z.string().min(1).optional(),
          clientCertPath: z.string().min(1).optional(),
          clientKeyPath: z.string().min(1).optional(),
        })
        .refine((t) => !t.clientCertPath === !t.clientKeyPath, 'clientCertPath and clientKeyPath go together')
        .optional(),
    })
      .refine((n) => !(n.credentialsPath && n.nkeySeedPath), 'give credentialsPath or nkeySeedPath, not both'),
  ]),
  /** Task queue of the control worker, which runs the workflows. */
  controlTaskQueue: identifier.default('phasegate-control'),
  simulator: z
    .strictObject({
      enabled: z.boolean(),
      adminHost: host.default('127.0.0.1'),
      adminPort: port.default(7900),
      /** How long a simulated agent takes to notice its hub is gone and reach its failover hub. */
      failoverDetectMs: z.number().int().min(0).max(600_000).default(1500),
    })
    .default({ enabled: false, adminHost: '127.0.0.1', adminPort: 7900, failoverDetectMs: 1500 }),
  /** Where alerts go besides JetStream: a Slack-style webhook per level (1 ops-alerts, 2 ops-critical and the pager, 3 incident response). */
  alerts: z
    .strictObject({
      webhooks: z
        .strictObject({
          level1: z.string().url().optional(),
          level2: z.string().url().optional(),
          level3: z.string().url().optional(),
        })
        .default({}),
    })
    .default({ webhooks: {} }),
  /**
   * Prometheus endpoints (`/metrics`) of the workers: `control` and one per machine name.
   * A worker without a port exposes none. On one host (the local stack) the ports must differ;
   * in production each machine can use the same port, on '0.0.0.0' for a scraper elsewhere.
   */
  metrics: z
    .strictObject({
      host: host.default('127.0.0.1'),
      ports: z.record(identifier, port).default({}),
    })
    .default({ host: '127.0.0.1', ports: {} }),
  /** How workers stop (SIGINT/SIGTERM), and the control worker's workflow cache. */
  workers: z
    .strictObject({
      /**
       * How long a stopping worker lets running commands and probes finish before it cancels
       * them (killing each command's process group). A command cut off is retried with the
       * same idempotency key by the next worker; one allowed to finish needs no retry.
       */
      shutdownGraceMs: z.number().int().min(0).max(600_000).default(30_000),
      /**
       * How many workflow runs the control worker keeps in memory between their tasks (the
       * SDK's maxCachedWorkflows). Unset, the SDK sizes it from the heap as if a run cost about
       * 1.7 MB (about 60 runs at 256 MiB); a phasegate run costs about 75 KB before it does anything
       * (bench/workflow-run-memory.ts), so set it to at least twice the migrations that run at
       * once (each holds its agent's lease, a run of its own) plus the weeks and phases. A run
       * evicted from the cache is replayed from its history at its next task.
       */
      maxCachedWorkflows: z.number().int().min(10).max(100_000).optional(),
      /**
       * How long a workflow task waits on the control worker's own (sticky) queue before the
       * server gives it to the shared queue with the whole history, which the worker then
       * replays from its start (the SDK's stickyQueueScheduleToStartTimeout, 10 s unset). A busy
       * worker that misses it replays the whole history, a big week's included; the server hands
       * the task over at once when the worker has gone, so a longer wait costs little. At 1,000
       * agents 60 s kept the week from any such replay; it did not lower the worker's peak
       * memory (bench/RESULTS.md, "the control worker's memory at 1,000 agents").
       */
      stickyQueueTimeoutMs: z.number().int().min(1_000).max(600_000).optional(),
      /**
       * The control worker's V8 heap limit in MiB (node --max-old-space-size), as the processes
       * phasegate starts itself get it (lib/stack.ts). Unset, Node allows a large share of the
       * machine's memory and collects lazily: the control worker held 620 MB at 200 agents,
       * 409 MB with 256 (bench/RESULTS.md, scale). Node gives the SDK's workflow thread the same
       * limit. The SDK sizes the workflow cache from this limit too, unless maxCachedWorkflows
       * says otherwise.
       */
      controlWorkerHeapMb: z.number().int().min(128).max(65_536).optional(),
      /**
       * Worker Versioning (workers/versioning.ts; docs/operating.md, "Upgrading phasegate during a
       * phase"): the control worker polls as this version of this Worker Deployment, and running
       * workflows move to whichever version is current at their next task (auto-upgrade).
       */
      deploymentVersion: z.strictObject({ deploymentName: identifier, buildId: z.string().min(1).max(255).regex(/^[A-Za-z0-9._+-]+$/, 'letters, digits and . _ + - only') }).optional(),
    })
    .default({ shutdownGraceMs: 30_000 }),
  /**
   * The people who may decide gates and approve stages where a plan names them, with their
   * Ed25519 public keys (decisions/signatures.ts; `phasegate keys new` makes a pair). Public
   * keys only: each person keeps their private key file.
   */
  people: z
    .array(z.strictObject({ name: personName, publicKey: z.string().superRefine((k, ctx) => void (publicKeyProblem(k) && ctx.addIssue({ code: 'custom', message: publicKeyProblem(k)! }))) }))
    .max(1000)
    .default([])
    .superRefine((people, ctx) => {
      const seen = new Set<string>();
      people.forEach((p, i) => {
        if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${p.name}" is listed twice` });
        seen.add(p.name);
      });
    }),
  /**
   * Deploy windows and calendar freezes (decisions/calendar.ts): when new work may start.
   * Outside every window or inside a freeze, no migration, stage or operation starts; what runs
   * finishes its current stage and holds; observation and validation clocks keep running.
   */
  calendar: calendarSchema.optional(),
  /** Files, relative to this file. */
  inventory: z.string().min(1),
  catalogues: z.record(identifier, z.string().min(1)),
  plansDir: z.string().min(1).default('plans'),
  /** Run data (dev server database, NATS store, logs), relative to the project root. */
  dataDir: z.string().min(1).default('.data'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});
export type Deployment = z.infer<typeof deploymentSchema>;
