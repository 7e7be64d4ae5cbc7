import { accessSync, constants, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ConfigError, loadConfig, type PhasegateConfig } from '../config/load';
import type { CatalogueCommand } from '../config/schema/catalogue';
import { findGpuCommandProblem } from '../activities/machine/probes';
import { projectRoot } from '../lib/paths';
import { connectNats } from '../lib/nats';
import { connectClient, temporalTarget } from '../lib/temporal';

/**
 * `phasegate doctor`: what a machine needs before its worker can take a migration, checked the
 * way the worker will use it, and what to do about each problem. Exit codes, for provisioning
 * scripts: 0 ready; 1 something on this machine needs fixing (a command, an agent, nvidia-smi);
 * 2 the configuration does not load; 3 Temporal or NATS cannot be reached (the machine itself
 * may be fine: try again once they are up).
 */

export interface DoctorCheck {
  check: 'configuration' | 'command' | 'health' | 'nvidia-smi' | 'temporal' | 'nats';
  target: string;
  ok: boolean;
  detail: string;
  /** What to do, when not ok. */
  fix?: string;
}

export interface DoctorReport {
  configDir: string;
  machines: string[];
  ok: boolean;
  exitCode: 0 | 1 | 2 | 3;
  checks: DoctorCheck[];
}

/** A catalogue command's program as the worker would run it: {node} is this Node.js, the first argument of {node} its script. */
function commandChecks(machine: string, where: string, spec: CatalogueCommand): DoctorCheck[] {
  const target = `${machine} ${where}`;
  const program = spec.command === '{node}' ? process.execPath : spec.command;
  const problem = (file: string, what: string): string | null => {
    if (/\{[A-Za-z]+\}/.test(file)) return null;
    if (!existsSync(file)) return `${what} ${file} does not exist`;
    if (!statSync(file).isFile()) return `${what} ${file} is not a file`;
    try {
      accessSync(file, what === 'program' ? constants.X_OK : constants.R_OK);
    } catch {
      return `${what} ${file} is not ${what === 'program' ? 'executable' : 'readable'}`;
    }
    return null;
  };
  let why = problem(program, 'program');
  // A Node script named by its path (relative to the project, as the worker runs it there).
  const script = spec.command === '{node}' ? spec.args.find((a) => /\.(m?js|cjs)$/.test(a)) : undefined;
  if (!why && script) why = problem(path.resolve(projectRoot, script.replace('{projectRoot}', projectRoot)), 'script');
  return [
    why
      ? { check: 'command', target, ok: false, detail: why, fix: `install it, or correct ${where} in the catalogue of ${machine}` }
      : { check: 'command', target, ok: true, detail: `${program}${script ? ` ${script}` : ''}` },
  ];
}

function getHealth(url: string, timeoutMs: number): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })));
    req.on('error', reject);
  });
}

async function healthChecks(config: PhasegateConfig, machine: string): Promise<DoctorCheck[]> {
  const host = config.inventory.machines.find((m) => m.name === machine)!.host;
  return Promise.all(
    config.inventory.agents
      .filter((a) => a.machine === machine)
      .map(async (a): Promise<DoctorCheck> => {
        const url = `http://${host}:${a.healthPort}${a.healthPath}`;
        try {
          const r = await getHealth(url, 3000);
          if (r.status >= 200 && r.status < 300) return { check: 'health', target: a.name, ok: true, detail: `${url} answered ${r.status} in ${Math.round(r.ms)} ms` };
          return { check: 'health', target: a.name, ok: false, detail: `${url} answered HTTP ${r.status}`, fix: `the agent is up but unhealthy: read its log; a migration would start from a failing pre-flight check` };
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          return { check: 'health', target: a.name, ok: false, detail: `${url}: ${e.code ?? ''} ${e.message}`.trim(), fix: `start ${a.name}, or correct its healthPort/healthPath in the inventory` };
        }
      }),
  );
}

async function temporalCheck(config: PhasegateConfig): Promise<DoctorCheck> {
  const target = temporalTarget(config.deployment);
  try {
    const c = await connectClient(config.deployment, { connectTimeoutMs: 3000 });
    try {
      await c.connection.workflowService.describeNamespace({ namespace: c.namespace });
      return { check: 'temporal', target: target.address, ok: true, detail: `namespace ${c.namespace} answers` };
    } finally {
      await c.close();
    }
  } catch (err) {
    return { check: 'temporal', target: target.address, ok: false, detail: (err as Error).message.split('\n')[0]!, fix: `start Temporal (scripts/demo.sh --stack-only for the embedded one), or correct temporal in ${config.deploymentFile} (address, namespace, TLS, API key)` };
  }
}

async function natsCheck(config: PhasegateConfig): Promise<DoctorCheck> {
  const n = config.deployment.nats;
  const target = n.mode === 'embedded' ? `nats://${n.host}:${n.port}` : n.servers.join(',');
  try {
    const nc = await connectNats(config.deployment, 'phasegate-doctor', { once: true });
    try {
      const info = await (await nc.jetstreamManager()).getAccountInfo();
      return { check: 'nats', target, ok: true, detail: `JetStream answers (${info.streams} streams)` };
    } finally {
      await nc.close();
    }
  } catch (err) {
    return { check: 'nats', target, ok: false, detail: (err as Error).message, fix: `start NATS with JetStream, or correct nats in ${config.deploymentFile} (servers, credentials, TLS)` };
  }
}

export async function runDoctor(configDir: string, opts: { machine?: string | undefined }): Promise<DoctorReport> {
  let config: PhasegateConfig;
  try {
    config = loadConfig(configDir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const checks = err.issues.map((i): DoctorCheck => ({ check: 'configuration', target: err.file, ok: false, detail: `${i.field || '(file)'}: ${i.reason}`, fix: `correct ${err.file}` }));
    return { configDir, machines: [], ok: false, exitCode: 2, checks };
  }
  const known = config.inventory.machines.map((m) => m.name);
  if (opts.machine && !known.includes(opts.machine)) {
    return { configDir, machines: [], ok: false, exitCode: 2, checks: [{ check: 'configuration', target: '--machine', ok: false, detail: `unknown machine "${opts.machine}" (known: ${known.join(', ')})`, fix: 'name a machine of the inventory' }] };
  }
  const machines = opts.machine ? [opts.machine] : known;
  const checks: DoctorCheck[] = [{ check: 'configuration', target: configDir, ok: true, detail: `${config.inventory.agents.length} agents on ${known.length} machines` }];
  for (const m of machines) {
    const catalogue = config.catalogues[m]!;
    for (const [name, spec] of Object.entries(catalogue.actions)) checks.push(...commandChecks(m, `actions.${name}`, spec));
    for (const [name, op] of Object.entries(catalogue.operations)) for (const dir of ['run', 'undo'] as const) checks.push(...commandChecks(m, `operations.${name}.${dir}`, op[dir]));
    if (catalogue.probes.gpu) {
      const problem = findGpuCommandProblem(catalogue);
      checks.push(problem ? { check: 'nvidia-smi', target: m, ok: false, detail: problem, fix: 'install the NVIDIA driver (nvidia-smi), or remove probes.gpu from the catalogue' } : { check: 'nvidia-smi', target: m, ok: true, detail: `${catalogue.probes.gpu.command} is there` });
    }
    checks.push(...(await healthChecks(config, m)));
  }
  const services = await Promise.all([temporalCheck(config), natsCheck(config)]);
  checks.push(...services);
  const machineProblems = checks.some((c) => !c.ok && c.check !== 'temporal' && c.check !== 'nats');
  const exitCode = machineProblems ? 1 : services.some((c) => !c.ok) ? 3 : 0;
  return { configDir, machines, ok: exitCode === 0, exitCode, checks };
}

export function renderDoctor(r: DoctorReport): string {
  const lines = r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check.padEnd(13)} ${c.target}: ${c.detail}${c.ok || !c.fix ? '' : `\n     fix: ${c.fix}`}`);
  const failed = r.checks.filter((c) => !c.ok).length;
  const verdict = r.ok ? 'ready' : { 1: 'not ready: fix this machine', 2: 'the configuration does not load', 3: 'this machine looks right, but Temporal or NATS cannot be reached' }[r.exitCode as 1 | 2 | 3];
  return `phasegate doctor (${r.machines.join(', ') || 'no machine'}; ${r.configDir})\n${lines.join('\n')}\n${failed ? `${failed} problem${failed === 1 ? '' : 's'}: ` : ''}${verdict} (exit ${r.exitCode})`;
}
