import os from 'node:os';
import type { Catalogue } from '../../config/schema/catalogue';
import type { Reading } from '../../decisions/triggers';
import { runCommand, type CatalogueRunner } from './catalogue-runner';

/**
 * Measuring only: each probe returns a Reading (measured, no data, or not applicable) and
 * never judges. Judging is decisions/triggers.ts; acting is the workflow.
 */

/** GPU memory through the catalogue's fixed nvidia-smi query; the highest-used GPU counts. */
export async function readGpuMemory(catalogue: Catalogue, cwd: string): Promise<Reading> {
  const spec = catalogue.probes.gpu;
  if (!spec) return { metric: 'gpuMemoryPct', status: 'not-applicable', detail: 'no GPU probe configured for this machine' };
  const result = await runCommand(spec.command, spec.args, spec.timeoutMs, cwd);
  if (result.exitCode === null && /ENOENT/.test(result.stderr)) {
    return { metric: 'gpuMemoryPct', status: 'not-applicable', detail: `${spec.command} not found: no GPU here, so the GPU trigger does not apply` };
  }
  if (result.timedOut) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `${spec.command} timed out after ${spec.timeoutMs} ms` };
  if (result.exitCode !== 0) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `${spec.command} exited ${result.exitCode ?? result.signal}: ${result.stderr.slice(0, 200)}` };
  const pct = parseNvidiaSmiMemory(result.stdout);
  if (pct === null) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `cannot parse ${spec.command} output: ${result.stdout.slice(0, 200)}` };
  return { metric: 'gpuMemoryPct', status: 'measured', value: pct };
}

/** Parses `memory.used, memory.total` CSV lines (MiB, no units); returns the highest percentage. */
export function parseNvidiaSmiMemory(stdout: string): number | null {
  let worst: number | null = null;
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const [used, total] = line.split(',').map((s) => Number(s.trim()));
    if (used === undefined || total === undefined || !Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return null;
    const pct = (used / total) * 100;
    worst = worst === null ? pct : Math.max(worst, pct);
  }
  return worst;
}

export type LoadSource = { kind: 'load-average' } | { kind: 'simulator'; adminUrl: string; machine: string };

/**
 * The machine's 1-minute load average (os.loadavg: the kernel's own figure, no shell and no
 * blocking call), or the simulator's injected value for drills; and the same divided by the
 * cores, as its own reading. Each reading says what it is.
 */
export async function readLoad(source: LoadSource): Promise<Reading[]> {
  const cores = Math.max(1, os.cpus().length);
  const both = (load: number, from: string): Reading[] => [
    { metric: 'load', status: 'measured', value: load, detail: `1-minute load average (${from})` },
    { metric: 'loadPerCore', status: 'measured', value: load / cores, detail: `1-minute load average ${Math.round(load * 100) / 100} over ${cores} cores (${from})` },
  ];
  const noData = (detail: string): Reading[] => [
    { metric: 'load', status: 'no-data', detail },
    { metric: 'loadPerCore', status: 'no-data', detail },
  ];
  if (source.kind === 'simulator') {
    try {
      const res = await fetch(`${source.adminUrl}/machines/${encodeURIComponent(source.machine)}/load`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        const body = (await res.json()) as { load: number | null };
        if (typeof body.load === 'number') return both(body.load, 'simulator');
      }
    } catch (err) {
      return noData(`simulator load probe failed: ${(err as Error).message}`);
    }
  }
  const [load1] = os.loadavg();
  return typeof load1 === 'number' && Number.isFinite(load1) ? both(load1, 'os.loadavg') : noData('os.loadavg gave no figure');
}

/**
 * Times the agent's health endpoint. A refused connection or an error status is a
 * measurement (the agent is down); a request still unanswered past the response-time
 * threshold is a measurement too (it is slower than allowed); other probe failures are
 * "no data".
 */
export async function readResponse(url: string, thresholdMs: number): Promise<Reading[]> {
  const started = performance.now();
  const limitMs = thresholdMs + 500;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(limitMs) });
    await res.arrayBuffer();
    const ms = performance.now() - started;
    const up: Reading = res.ok
      ? { metric: 'agentUp', status: 'measured', value: 1 }
      : { metric: 'agentUp', status: 'measured', value: 0, detail: `health endpoint answered HTTP ${res.status}` };
    return [{ metric: 'responseTimeMs', status: 'measured', value: ms }, up];
  } catch (err) {
    const ms = performance.now() - started;
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || ms >= limitMs) {
      return [{ metric: 'responseTimeMs', status: 'measured', value: ms, detail: `no answer within ${Math.round(ms)} ms` }];
    }
    if (e.cause?.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNRESET') {
      return [{ metric: 'agentUp', status: 'measured', value: 0, detail: `health endpoint ${e.cause.code}` }];
    }
    return [{ metric: 'responseTimeMs', status: 'no-data', detail: `health probe failed: ${e.cause?.code ?? e.message}` }];
  }
}

/** The catalogue's integration check for the agent: exit 0 passes, another exit fails. */
export async function readIntegration(runner: CatalogueRunner, agent: string): Promise<Reading> {
  const result = await runner.run({ action: 'integration-check', agent });
  if (result.timedOut) return { metric: 'integration', status: 'no-data', detail: 'integration check timed out' };
  if (result.exitCode === null) return { metric: 'integration', status: 'no-data', detail: `integration check could not run: ${result.stderr.slice(0, 200)}` };
  return result.exitCode === 0
    ? { metric: 'integration', status: 'measured', value: 1 }
    : { metric: 'integration', status: 'measured', value: 0, detail: result.stderr.slice(0, 300) || `exit ${result.exitCode}` };
}
