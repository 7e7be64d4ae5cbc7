import { accessSync, constants } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { Catalogue } from '../../config/schema/catalogue';
import type { Reading } from '../../decisions/triggers';
import { runCommand, type CatalogueRunner, type CommandResult } from './catalogue-runner';

/**
 * Measuring only: each probe returns a Reading (measured, no data, or not applicable) and
 * never judges. Judging is decisions/triggers.ts; acting is the workflow.
 */

/** One GPU as nvidia-smi's --query-gpu reports it; null where it printed [N/A] or [Not Supported]. */
export interface GpuRow {
  id: string;
  usedMiB: number | null;
  totalMiB: number | null;
}

/** One process on a GPU as --query-compute-apps reports it. */
export interface GpuApp {
  pid: number;
  usedMiB: number | null;
  gpu: string;
}

const unavailable = (field: string) => /^\[(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]$/i.test(field.trim());
const miB = (field: string | undefined): number | null | undefined => {
  if (field === undefined) return undefined;
  if (unavailable(field)) return null;
  const n = Number(field.trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
};

/**
 * Parses `--query-gpu=uuid,memory.used,memory.total` lines (or the older two-field
 * `memory.used,memory.total`, each GPU then named by its line). An unavailable field is null;
 * a line that is not CSV of this shape makes the whole output unreadable (null).
 */
export function parseGpuRows(stdout: string): GpuRow[] | null {
  const rows: GpuRow[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split(',');
    const [id, used, total] = f.length >= 3 ? [f[0]!.trim(), miB(f[1]), miB(f[2])] : [`GPU ${rows.length}`, miB(f[0]), miB(f[1])];
    if (used === undefined || total === undefined || !id) return null;
    rows.push({ id, usedMiB: used, totalMiB: total });
  }
  return rows;
}

/** Parses `--query-compute-apps=pid,used_memory,gpu_uuid` lines; null when unreadable. */
export function parseGpuApps(stdout: string): GpuApp[] | null {
  const apps: GpuApp[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    if (/no running (compute )?processes found/i.test(line)) continue;
    const [pid, used, gpu] = line.split(',').map((x) => x.trim());
    const used2 = miB(used);
    if (!pid || !/^\d+$/.test(pid) || used2 === undefined || !gpu) return null;
    apps.push({ pid: Number(pid), usedMiB: used2, gpu });
  }
  return apps;
}

const pct1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The GPU memory reading for one agent, from what the two queries printed (pure; table-tested
 * in test/unit/probes.test.ts). With the agent's process ids known: the memory used on the
 * GPU or GPUs its processes are on (what fills up when it leaks), not applicable when it holds
 * none. Without them, or without the process list: the machine-wide figure, labelled as such.
 * A GPU whose figures are [N/A] is no data for an agent on it.
 */
export function gpuReadingFor(gpus: GpuRow[], apps: GpuApp[] | null, agentPids: readonly number[] | null): Reading {
  const pctOf = (g: GpuRow) => (g.usedMiB !== null && g.totalMiB !== null && g.totalMiB > 0 ? (g.usedMiB / g.totalMiB) * 100 : null);
  const worst = (rows: GpuRow[]) => rows.map((g) => ({ g, pct: pctOf(g) })).reduce<{ g: GpuRow; pct: number } | null>((w, x) => (x.pct !== null && (!w || x.pct > w.pct) ? { g: x.g, pct: x.pct } : w), null);
  if (gpus.length === 0) return { metric: 'gpuMemoryPct', status: 'no-data', detail: 'nvidia-smi listed no GPU' };
  if (agentPids && agentPids.length > 0 && apps) {
    const mine = apps.filter((a) => agentPids.includes(a.pid));
    if (mine.length === 0) return { metric: 'gpuMemoryPct', status: 'not-applicable', detail: `the agent's processes (${agentPids.join(', ')}) hold no GPU memory` };
    const onGpus = gpus.filter((g) => mine.some((a) => a.gpu === g.id));
    if (onGpus.length === 0) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `the agent's processes are on GPU ${mine[0]!.gpu}, which --query-gpu did not list` };
    const blind = onGpus.find((g) => pctOf(g) === null);
    if (blind) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `GPU ${blind.id} reports its memory as unavailable ([N/A])` };
    const w = worst(onGpus)!;
    const own = mine.map((a) => a.usedMiB);
    const ownText = own.every((x) => x !== null) ? `${own.reduce<number>((s, x) => s + (x ?? 0), 0)} MiB` : 'an unknown amount ([N/A])';
    return { metric: 'gpuMemoryPct', status: 'measured', value: w.pct, detail: `GPU ${w.g.id} (the agent's): ${pct1(w.pct)} % used; the agent's processes hold ${ownText} of it` };
  }
  const w = worst(gpus);
  const why = !apps ? 'the process list could not be read' : "the agent's process ids are unknown (its health endpoint gives no pid)";
  if (!w) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `every GPU reports its memory as unavailable ([N/A]); ${why}` };
  return { metric: 'gpuMemoryPct', status: 'measured', value: w.pct, detail: `machine-wide: the fullest GPU, ${w.g.id}, ${pct1(w.pct)} % used (${why})` };
}

/**
 * What a machine worker keeps between GPU readings: the looping reader, and the last memory
 * query and process query started. Every window on the machine reads the same GPUs, so a
 * reading asked while a query is under way, or within `sharedForMs` of one, shares it: half the
 * asking window's sample interval, at most gpuSharedForMs (a reading is never older than half a
 * sample), and none for a one-off probe such as the one after a rollback. A machine with forty
 * agents under watch at one sample a second starts a few nvidia-smi processes a second, not
 * eighty (bench/probe-overhead.ts measures it). With the looping reader (probes.gpu.loopMs), the process
 * list is kept for appsForMs, and asked again sooner when an agent's processes are not on it, as
 * after a restart: an agent that freed its GPU memory may be judged by its GPU for that long.
 */
export interface GpuProbeState {
  reader: { latest(): { rows: GpuRow[] } | { stale: string } } | null;
  memory?: { at: number; result: Promise<CommandResult> } | null;
  apps?: { at: number; result: Promise<CommandResult> } | null;
}
export const gpuSharedForMs = 1000;
export const appsForMs = 10_000;

export function newGpuProbeState(reader: GpuProbeState['reader'] = null): GpuProbeState {
  return { reader, memory: null, apps: null };
}

/** The query of this slot started within maxAgeMs (or still running), or a new one. */
function sharedQuery(state: GpuProbeState | null, slot: 'memory' | 'apps', maxAgeMs: number, start: () => Promise<CommandResult>): Promise<CommandResult> {
  if (!state) return start();
  const last = state[slot];
  const now = Date.now();
  if (last && now - last.at < maxAgeMs) return last.result;
  const result = start();
  state[slot] = { at: now, result };
  return result;
}

/**
 * GPU memory for one agent through the catalogue's fixed nvidia-smi queries (its memory query,
 * and the process query when the catalogue gives one). nvidia-smi missing, hung or failing is
 * no data: the catalogue says this machine has a GPU (the worker refuses to start without the
 * command, see findGpuCommandProblem), so a missing reading is not "no GPU here".
 */
export async function readGpuMemory(catalogue: Catalogue, cwd: string, agentPids: readonly number[] | null = null, state: GpuProbeState | null = null, sharedForMs = gpuSharedForMs): Promise<Reading> {
  const spec = catalogue.probes.gpu;
  if (!spec) return { metric: 'gpuMemoryPct', status: 'not-applicable', detail: 'no GPU probe configured for this machine' };
  const failed = (r: CommandResult, what: string): Reading | null => {
    if (r.exitCode === null && /ENOENT/.test(r.stderr)) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `${spec.command} not found (${what})` };
    if (r.timedOut) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `${spec.command} timed out after ${spec.timeoutMs} ms (${what}); its process group was killed` };
    if (r.exitCode !== 0) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `${spec.command} exited ${r.exitCode ?? r.signal} (${what}): ${r.stderr.slice(0, 200)}` };
    return null;
  };
  const wantApps = spec.appsArgs && agentPids && agentPids.length > 0;
  // With the looping reader: its latest lines, and the process list of the last 10 s.
  const looped = state?.reader?.latest();
  const askApps = (maxAgeMs: number) => sharedQuery(state, 'apps', maxAgeMs, () => runCommand(spec.command, spec.appsArgs!, spec.timeoutMs, cwd));
  const [memory, procs] = await Promise.all([
    looped && 'rows' in looped ? Promise.resolve(null) : sharedQuery(state, 'memory', sharedForMs, () => runCommand(spec.command, spec.args, spec.timeoutMs, cwd)),
    // The process list kept longer only beside the looping reader (which is opted into for its cost).
    wantApps ? askApps(state?.reader ? appsForMs : sharedForMs) : Promise.resolve(null),
  ]);
  let gpus: GpuRow[] | null;
  if (memory) {
    const memoryFailed = failed(memory, 'memory query');
    if (memoryFailed) return memoryFailed;
    gpus = parseGpuRows(memory.stdout);
    if (!gpus) return { metric: 'gpuMemoryPct', status: 'no-data', detail: `cannot parse ${spec.command} output: ${memory.stdout.slice(0, 200)}` };
  } else gpus = (looped as { rows: GpuRow[] }).rows;
  const appsOf = (r: CommandResult | null) => (r && !failed(r, 'process query') ? parseGpuApps(r.stdout) : null);
  let apps = appsOf(procs);
  // The agent's processes are not on a list older than a second: it may have restarted since.
  if (wantApps && state?.apps && Date.now() - state.apps.at >= Math.max(sharedForMs, 1) && !apps?.some((a) => agentPids.includes(a.pid))) apps = appsOf(await askApps(sharedForMs));
  return gpuReadingFor(gpus, apps, agentPids);
}

/** Why a worker whose catalogue asks for GPU probes cannot serve them (the command is not there), or null. */
export function findGpuCommandProblem(catalogue: Catalogue, pathEnv = process.env.PATH ?? ''): string | null {
  const spec = catalogue.probes.gpu;
  if (!spec) return null;
  const candidates = spec.command.includes('/') ? [spec.command] : pathEnv.split(':').filter(Boolean).map((d) => `${d}/${spec.command}`);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return null;
    } catch {
      // not here; try the next folder of the PATH
    }
  }
  return `probes.gpu: "${spec.command}" is not ${spec.command.includes('/') ? 'an executable file' : 'on the PATH'}, but this machine's catalogue asks for GPU probes. Install the NVIDIA driver's nvidia-smi, or remove probes.gpu if the machine has no GPU`;
}

export type LoadSource = { kind: 'load-average' } | { kind: 'simulator'; adminUrl: string; machine: string };

/**
 * The machine's 1-minute load average (os.loadavg: the kernel's own figure, no shell and no
 * blocking call), or the simulator's injected value for drills; and the same divided by the
 * cores, as its own reading. Each reading says what it is.
 */
export async function readLoad(source: LoadSource): Promise<Reading[]> {
  const cores = Math.max(1, os.availableParallelism());
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

/** The process ids an agent's health answer names (`pid`, or `pids` for an agent of several processes). */
export function pidsOf(body: string): number[] {
  try {
    const j = JSON.parse(body) as { pid?: unknown; pids?: unknown };
    const all = [...(Array.isArray(j.pids) ? j.pids : []), j.pid].filter((p): p is number => Number.isInteger(p) && (p as number) > 0);
    return [...new Set(all)];
  } catch {
    return [];
  }
}

/**
 * Times the agent's health endpoint. A refused connection or an error status is a
 * measurement (the agent is down); a request still unanswered past the response-time
 * threshold is a measurement too (it is slower than allowed); other probe failures are
 * "no data".
 */
export async function readResponse(url: string, thresholdMs: number): Promise<Reading[]> {
  return (await probeHealth(url, thresholdMs)).readings;
}

/**
 * One GET with node:http, a fresh connection each time (no keep-alive: a socket kept from
 * before an agent's restart would fail its first probe after it), ended at limitMs. node:http
 * costs about half the CPU of fetch per request (bench/probe-overhead.ts), and a machine
 * worker makes one per agent under watch and per control every sample.
 */
function getOnce(url: string, limitMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 65_536) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${limitMs} ms`), { name: 'TimeoutError' })), limitMs);
    req.on('error', reject);
    req.on('close', () => clearTimeout(timer));
  });
}

/** readResponse, and the process ids the agent's answer names (for its GPU reading). */
export async function probeHealth(url: string, thresholdMs: number): Promise<{ readings: Reading[]; pids: number[] }> {
  const started = performance.now();
  const limitMs = thresholdMs + 500;
  try {
    const res = await getOnce(url, limitMs);
    const ms = performance.now() - started;
    const ok = res.status >= 200 && res.status < 300;
    const up: Reading = ok ? { metric: 'agentUp', status: 'measured', value: 1 } : { metric: 'agentUp', status: 'measured', value: 0, detail: `health endpoint answered HTTP ${res.status}` };
    return { readings: [{ metric: 'responseTimeMs', status: 'measured', value: ms }, up], pids: ok ? pidsOf(res.body) : [] };
  } catch (err) {
    const ms = performance.now() - started;
    const e = err as Error & { code?: string };
    if (e.name === 'TimeoutError' || ms >= limitMs) {
      return { readings: [{ metric: 'responseTimeMs', status: 'measured', value: ms, detail: `no answer within ${Math.round(ms)} ms` }], pids: [] };
    }
    if (e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET') {
      return { readings: [{ metric: 'agentUp', status: 'measured', value: 0, detail: `health endpoint ${e.code}` }], pids: [] };
    }
    return { readings: [{ metric: 'responseTimeMs', status: 'no-data', detail: `health probe failed: ${e.code ?? e.message}` }], pids: [] };
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
