import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { catalogueSchema, type Catalogue } from './schema/catalogue';
import { deploymentSchema, type Deployment } from './schema/deployment';
import { inventorySchema, type Inventory } from './schema/inventory';
import { planSchema, type Plan } from './schema/plan';
import { ofKind } from '../plan/steps';
import { unsignablePlan } from '../decisions/signatures';

export interface ConfigIssue {
  /** Field path inside the file, e.g. `agents[3].machine`. */
  field: string;
  reason: string;
}

/** A configuration file that cannot be used: names the file, each bad field and why. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${file}: ${issues.map((i) => `${i.field || '(top level)'}: ${i.reason}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function formatFieldPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}

/** Validates already-parsed data against a schema, turning zod issues into a ConfigError. */
export function parseWithSchema<S extends z.ZodType>(file: string, schema: S, data: unknown): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((i) => ({ field: formatFieldPath(i.path), reason: i.message })),
    );
  }
  return result.data;
}

const maxConfigBytes = 5 * 1024 * 1024;

/** Reads a JSON file and validates it. Every failure, I/O included, is a ConfigError naming the file. */
export function loadJsonFile<S extends z.ZodType>(file: string, schema: S): z.infer<S> {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > maxConfigBytes) throw new ConfigError(file, [{ field: '', reason: `file is ${size} bytes; the limit is ${maxConfigBytes}` }]);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(file, [{ field: '', reason: `cannot read: ${(err as Error).message}` }]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [{ field: '', reason: `not valid JSON: ${(err as Error).message}` }]);
  }
  return parseWithSchema(file, schema, data);
}

export interface PhasegateConfig {
  configDir: string;
  deploymentFile: string;
  deployment: Deployment;
  inventoryFile: string;
  inventory: Inventory;
  catalogues: Record<string, Catalogue>;
}

/** Source size in KB for risk rating: the explicit figure, else the file's size if it exists. */
function resolveSourceSizes(inventory: Inventory, inventoryFile: string): void {
  for (const agent of inventory.agents) {
    if (agent.source?.sizeKb !== undefined || agent.source?.path === undefined) continue;
    const p = path.resolve(path.dirname(inventoryFile), agent.source.path);
    if (existsSync(p)) agent.source.sizeKb = Math.round(statSync(p).size / 1024);
  }
}

/**
 * Certificates, keys, API keys and NATS credentials are files, relative to the configuration
 * folder (or absolute). Resolved here and checked readable, so a wrong path is a configuration
 * error at start, naming the field, not a connection failure later.
 */
function resolveSecretFiles(deployment: Deployment, dir: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const check = (field: string, p: string | undefined): string | undefined => {
    if (p === undefined) return undefined;
    const abs = path.resolve(dir, p);
    try {
      readFileSync(abs);
    } catch (err) {
      issues.push({ field, reason: `cannot read ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
    return abs;
  };
  const t = deployment.temporal;
  if (t.mode === 'external') {
    if (t.tls) {
      t.tls.clientCertPath = check('temporal.tls.clientCertPath', t.tls.clientCertPath)!;
      t.tls.clientKeyPath = check('temporal.tls.clientKeyPath', t.tls.clientKeyPath)!;
      if (t.tls.serverRootCaPath) t.tls.serverRootCaPath = check('temporal.tls.serverRootCaPath', t.tls.serverRootCaPath);
    }
    if (t.apiKeyPath) t.apiKeyPath = check('temporal.apiKeyPath', t.apiKeyPath);
  }
  const n = deployment.nats;
  if (n.mode === 'external') {
    if (n.credentialsPath) n.credentialsPath = check('nats.credentialsPath', n.credentialsPath);
    if (n.nkeySeedPath) n.nkeySeedPath = check('nats.nkeySeedPath', n.nkeySeedPath);
    if (n.tls?.caPath) n.tls.caPath = check('nats.tls.caPath', n.tls.caPath);
    if (n.tls?.clientCertPath) n.tls.clientCertPath = check('nats.tls.clientCertPath', n.tls.clientCertPath);
    if (n.tls?.clientKeyPath) n.tls.clientKeyPath = check('nats.tls.clientKeyPath', n.tls.clientKeyPath);
  }
  return issues;
}

/** The ports phasegate's own services take on one host (the embedded servers, the simulator's admin API, the workers' metrics). */
function deploymentPorts(d: Deployment): Array<{ host: string; port: number; field: string }> {
  const ports: Array<{ host: string; port: number; field: string }> = [];
  if (d.temporal.mode === 'embedded') ports.push({ host: d.temporal.host, port: d.temporal.port, field: 'temporal.port' }, { host: d.temporal.host, port: d.temporal.uiPort, field: 'temporal.uiPort' });
  if (d.nats.mode === 'embedded') ports.push({ host: d.nats.host, port: d.nats.port, field: 'nats.port' });
  if (d.simulator.enabled) ports.push({ host: d.simulator.adminHost, port: d.simulator.adminPort, field: 'simulator.adminPort' });
  // Workers' metrics on a loopback host are all on this one machine (the local stack); on an
  // open host each worker serves them on its own machine, where the same port is fine.
  if (d.metrics.host.startsWith('127.')) for (const [worker, port] of Object.entries(d.metrics.ports)) ports.push({ host: d.metrics.host, port, field: `metrics.ports.${worker}` });
  return ports;
}

/** Two services of the deployment on one host and port: the second could never start. */
function deploymentPortClashes(d: Deployment): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const taken = new Map<string, string>();
  for (const p of deploymentPorts(d)) {
    // 0.0.0.0 takes the port on every address of the host.
    const keys = p.host === '0.0.0.0' ? ['*'] : [p.host, '*'];
    const holder = keys.map((k) => taken.get(`${k}:${p.port}`)).find(Boolean);
    if (holder) issues.push({ field: p.field, reason: `port ${p.port} on ${p.host} is already ${holder}'s` });
    taken.set(`${p.host === '0.0.0.0' ? '*' : p.host}:${p.port}`, p.field);
  }
  return issues;
}

/**
 * Ports of one machine that clash: two of its agents, hubs or Pushgateways on one port, or
 * (when the simulator serves the agents on this host) one of phasegate's own services.
 */
function inventoryPortClashes(inv: Inventory, d: Deployment): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const hostOf = new Map(inv.machines.map((m) => [m.name, m.host]));
  const taken = new Map<string, string>();
  if (d.simulator.enabled) for (const p of deploymentPorts(d)) taken.set(`${p.host}:${p.port}`, `deployment.json's ${p.field}`);
  const claim = (machine: string, port: number, what: string, field: string) => {
    const k = `${hostOf.get(machine) ?? machine}:${port}`;
    const holder = taken.get(k);
    if (holder) issues.push({ field, reason: `port ${port} on ${machine} (${hostOf.get(machine)}) is already taken by ${holder}` });
    else taken.set(k, what);
  };
  inv.hubs.forEach((h, i) => claim(h.machine, h.port, `hub ${h.name}`, `hubs[${i}].port`));
  inv.pushgateways.forEach((g, i) => claim(g.machine, g.port, `the Pushgateway of ${g.machine}`, `pushgateways[${i}].port`));
  // Agents against each other are checked by the schema; here against everything else.
  inv.agents.forEach((a, i) => {
    const k = `${hostOf.get(a.machine) ?? a.machine}:${a.healthPort}`;
    const holder = taken.get(k);
    if (holder) issues.push({ field: `agents[${i}].healthPort`, reason: `port ${a.healthPort} on ${a.machine} (${hostOf.get(a.machine)}) is already taken by ${holder}` });
  });
  return issues;
}

/** Loads and cross-checks deployment, inventory and catalogues of one configuration folder. */
export function loadConfig(configDir: string): PhasegateConfig {
  const dir = path.resolve(configDir);
  const deploymentFile = path.join(dir, 'deployment.json');
  const deployment = loadJsonFile(deploymentFile, deploymentSchema);
  const inventoryFile = path.resolve(dir, deployment.inventory);
  const inventory = loadJsonFile(inventoryFile, inventorySchema);
  resolveSourceSizes(inventory, inventoryFile);

  const machineNames = inventory.machines.map((m) => m.name);
  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(deployment.metrics.ports)) {
    if (name !== 'control' && !machineNames.includes(name)) issues.push({ field: `metrics.ports.${name}`, reason: `unknown worker "${name}" (known: control, ${machineNames.join(', ')})` });
  }
  for (const name of Object.keys(deployment.catalogues)) {
    if (!machineNames.includes(name)) issues.push({ field: `catalogues.${name}`, reason: `unknown machine "${name}" (inventory has: ${machineNames.join(', ')})` });
  }
  for (const name of machineNames) {
    if (!(name in deployment.catalogues)) issues.push({ field: 'catalogues', reason: `machine "${name}" has no catalogue of actions` });
  }
  issues.push(...resolveSecretFiles(deployment, dir));
  issues.push(...deploymentPortClashes(deployment));
  if (issues.length) throw new ConfigError(deploymentFile, issues);
  const inventoryClashes = inventoryPortClashes(inventory, deployment);
  if (inventoryClashes.length) throw new ConfigError(inventoryFile, inventoryClashes);

  const catalogues: Record<string, Catalogue> = {};
  for (const [machine, rel] of Object.entries(deployment.catalogues)) {
    const file = path.resolve(dir, rel);
    const catalogue = loadJsonFile(file, catalogueSchema);
    if (catalogue.machine !== machine) {
      throw new ConfigError(file, [{ field: 'machine', reason: `is "${catalogue.machine}" but deployment.json lists this file for "${machine}"` }]);
    }
    catalogues[machine] = catalogue;
  }
  return { configDir: dir, deploymentFile, deployment, inventoryFile, inventory, catalogues };
}

/** Loads a plan and checks every agent, machine, selector and operation against the configuration. */
export function loadPlan(file: string, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'> & { deployment?: Pick<PhasegateConfig['deployment'], 'people'> }): Plan {
  const renamed = renamedInPlan(readJson(file));
  if (renamed.length) throw new ConfigError(file, renamed);
  const plan = loadJsonFile(file, planSchema);
  const issues = [...checkPlanAgainstConfig(plan, config), ...(config.deployment ? decidersUnknown(plan, config.deployment.people) : [])];
  if (config.deployment && !plan.decisions.unsigned && config.deployment.people.length === 0) issues.push({ field: 'decisions', reason: unsignablePlan() });
  if (issues.length) throw new ConfigError(file, issues);
  return plan;
}

/** Deciders and approvers a plan names who have no public key in the deployment: their decisions could never be checked. */
function decidersUnknown(plan: Plan, people: ReadonlyArray<{ name: string }>): ConfigIssue[] {
  const known = new Set(people.map((p) => p.name));
  const reason = (n: string) => `"${n}" is not among the deployment's people (deployment.json "people"${known.size ? `: ${[...known].join(', ')}` : ', which lists nobody'}); add their public key (phasegate keys new)`;
  const issues: ConfigIssue[] = [];
  plan.decisions?.stageApprovers?.forEach((n, i) => known.has(n) || issues.push({ field: `decisions.stageApprovers[${i}]`, reason: reason(n) }));
  plan.weeks.forEach((w, wi) => w.gate.deciders?.forEach((n, i) => known.has(n) || issues.push({ field: `weeks[${wi}].gate.deciders[${i}]`, reason: reason(n) })));
  return issues;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // loadJsonFile says what is wrong with it
  }
}

/**
 * Fields a plan written for an earlier phasegate still uses, with exactly what to write
 * instead: a step's `action` is now `operation`, its `operation` now `name`.
 */
export function renamedInPlan(raw: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const weeks = (raw as { weeks?: unknown })?.weeks;
  if (!Array.isArray(weeks)) return issues;
  weeks.forEach((w, wi) => {
    const steps = (w as { steps?: unknown })?.steps;
    if (!Array.isArray(steps)) return;
    steps.forEach((st, si) => {
      const action = (st as { action?: { machine?: unknown; operation?: unknown } })?.action;
      if (action === undefined) return;
      const machine = JSON.stringify(action?.machine ?? '<machine>');
      const name = JSON.stringify(action?.operation ?? '<operation>');
      issues.push({ field: `weeks[${wi}].steps[${si}].action`, reason: `renamed: write "operation": { "machine": ${machine}, "name": ${name} } (a step that runs an operation of a machine's catalogue)` });
    });
  });
  return issues;
}

/**
 * A plan against the fleet's configuration: each step by its kind (plan/steps/: agents,
 * machines and operations that must exist), then each week as a whole: the same agent and
 * change twice, gate criteria on machines the week's migrations are not on.
 */
export function checkPlanAgainstConfig(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'>): ConfigIssue[] {
  const { inventory } = config;
  const issues: ConfigIssue[] = [];
  plan.weeks.forEach((week, wi) =>
    week.steps.forEach((step, si) =>
      ofKind(step, (kind, value, name) => {
        for (const i of kind.planProblems(value, config)) issues.push({ field: `weeks[${wi}].steps[${si}].${name}${i.field ? `.${i.field}` : ''}`, reason: i.reason });
      }),
    ),
  );
  if (issues.length) return issues;
  const machines = new Set(inventory.machines.map((m) => m.name));
  plan.weeks.forEach((week, wi) => {
    // The same agent and change twice in one week: two migrations of one change, racing.
    const first = new Map<string, string>();
    const migrated = new Set<string>();
    week.steps.forEach((step, si) =>
      ofKind(step, (kind, value, name) => {
        const compiled = kind.compile(value, { plan: { id: plan.id }, week: week.id, step: step.id, inventory });
        if (name === 'migrate') kind.machines(compiled).forEach((m) => migrated.add(m));
        for (const { agent, change } of kind.agentChanges?.(compiled) ?? []) {
          const earlier = first.get(`${agent}/${change}`);
          if (earlier) issues.push({ field: `weeks[${wi}].steps[${si}].${name}`, reason: `acts on ${agent}, which step "${earlier}" of this week already migrates to "${change}"` });
          else first.set(`${agent}/${change}`, step.id);
        }
      }),
    );
    week.gate.criteria.forEach((c, ci) => {
      if (c.kind !== 'all-migrated' || !c.machines) return;
      c.machines.forEach((m, mi) => {
        const field = `weeks[${wi}].gate.criteria[${ci}].machines[${mi}]`;
        if (!machines.has(m)) issues.push({ field, reason: `unknown machine "${m}" (known: ${[...machines].join(', ')})` });
        else if (!migrated.has(m)) issues.push({ field, reason: `no agent this week migrates is on ${m} (they are on ${[...migrated].join(', ') || 'no machine'}): the criterion could never be judged` });
      });
    });
  });
  return issues;
}
