import os from 'node:os';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, type MetricMeter } from '@temporalio/common';
import si from 'systeminformation';
import type { NatsConnection } from 'nats';
import type { Catalogue } from '../../config/schema/catalogue';
import type { Inventory } from '../../config/schema/inventory';
import {
  computeBaseline,
  evaluateSample,
  initialEvaluationState,
  type Baseline,
  type EvaluationState,
  type Reading,
  type TriggerEvidence,
  type TriggerThresholds,
  median as medianOf,
} from '../../decisions/triggers';
import type { Logger } from '../../lib/logger';
import { CatalogueRunner, type ActionRequest, type CommandResult, type MachineValues } from './catalogue-runner';
import { createHeartbeatSummarizer } from './heartbeat-summary';
import { defaultJudgeSettings, judgeDegradation, type DegradationVerdict, type JudgeSettings, type Tick } from '../../decisions/judge';
import { closestControls, maxControlCandidates, maxControls } from '../../decisions/controls';
import type { PreflightReadings } from '../../decisions/preflight';
import { probeTimer } from './probe-metrics';
import { readPromQuery } from './prometheus';
import { GpuMemoryReader } from './gpu-reader';
import { gpuSharedForMs, newGpuProbeState, probeHealth, readGpuMemory, readIntegration, readLoad, readResponse, type GpuProbeState, type LoadSource } from './probes';

/** A plan's PromQL probes (thresholds.queries). */
type QueryProbes = ReadonlyArray<{ name: string; query: string }>;

export type { ActionRequest } from './catalogue-runner';
export type { HeartbeatSummaryRequest } from './heartbeat-summary';

export interface MachineActivityDeps {
  machine: string;
  inventory: Inventory;
  catalogue: Catalogue;
  values: MachineValues;
  logger: Logger;
  /** This machine's NATS, connected on first use (the validation reads heartbeats from it). */
  nats: () => Promise<NatsConnection>;
  /** The worker runtime's metric meter, for probe latencies; null where nothing serves metrics. */
  meter?: MetricMeter | null;
}

export interface MachineDescription {
  machine: string;
  hostname: string;
  pid: number;
  cpus: number;
  load1: number;
  memUsedPct: number;
  agents: number;
}

export interface ActionOutcome {
  ok: true;
  action: ActionRequest['action'] | 'operation' | 'operation-undo';
  agent: string;
  exitCode: number;
  durationMs: number;
  output: string;
}

export interface BaselineRequest {
  agent: string;
  samples: number;
  intervalMs: number;
  responseThresholdMs: number;
  /** Candidate controls: unchanged agents of this machine probed in the same ticks; the closest in speed are kept (decisions/controls.ts). */
  controls?: string[];
  /** Run the agent's integration check once (the pre-flight check, decisions/preflight.ts). */
  checkIntegration?: boolean;
}

/** Which stages of a change to read back from an agent (its catalogue's verify-marker). */
export interface MarkersRequest {
  agent: string;
  change: string;
  stages: number[];
}

/** The markers read before stage 1, then the baseline: one request (prepareMigration). */
export type PrepareRequest = BaselineRequest & Pick<MarkersRequest, 'change' | 'stages'>;

export interface BaselineResult {
  baseline: Baseline;
  gpu: Reading;
  samples: number;
  probeErrors: number;
  /** What the pre-flight check judges (decisions/preflight.ts). */
  preflight: PreflightReadings;
}

export interface WindowRequest {
  agent: string;
  durationMs: number;
  sampleIntervalMs: number;
  thresholds: TriggerThresholds;
  baseline: Baseline | null;
  /** Also run the catalogue's integration check for the agent on every sample. */
  checkIntegration: boolean;
}

/** The degradation judge's verdict on a window (decisions/judge.ts), for the status and the history. */
export type WindowDegradation = Pick<DegradationVerdict, 'verdict' | 'method' | 'detail' | 'baselineTicks' | 'windowTicks'> & Partial<Pick<Extract<DegradationVerdict, { p: number }>, 'p' | 'slowdownPct' | 'slowdownMs' | 'medians'>>;

export interface WindowResult {
  verdict: 'pass' | 'fail' | 'inconclusive';
  trigger?: TriggerEvidence;
  reason?: string;
  escalations: TriggerEvidence[];
  samples: number;
  probeErrors: number;
  elapsedMs: number;
  lastReadings: Reading[];
  notApplicable: string[];
  /** Absent when the window ended before it was judged (another trigger fired first). */
  degradation?: WindowDegradation;
}

interface WindowProgress {
  elapsedMs: number;
  state: EvaluationState;
  ticks: Tick[];
}

/** A marker check that cannot tell is asked this many times, pausing 1 s, then 2 s, between (markersOf). */
const markerReadAttempts = 3;
const markerReadPauseMs = 1000;

/** A window's ticks beyond this are thinned to every other one: a 24-hour observation's windows stay small in heartbeats. */
const maxWindowTicks = 1200;

/**
 * Runs a command while heartbeating, so a dead worker is noticed within the heartbeat
 * timeout and the action retried (same idempotency key) elsewhere.
 */
async function withHeartbeat(run: (signal: AbortSignal) => Promise<CommandResult>): Promise<CommandResult> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 1000);
  try {
    return await run(ctx.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}

/**
 * A command's result as an activity outcome. A non-zero exit or a timeout is a retryable
 * failure; either way the command and everything it started are gone by now (the runner waits
 * for its process group), so a retry or an undo can never race it. A command stopped because
 * the activity was cancelled ends the activity as cancelled, which the workflow waits for.
 */
function outcomeOf(what: string, result: CommandResult, id: Pick<ActionOutcome, 'action' | 'agent'>): ActionOutcome {
  if (result.ended === 'cancelled') throw new CancelledFailure(`${what} cancelled; its process group was stopped after ${result.durationMs} ms`);
  if (!result.groupGone) {
    // Something of the command still runs and may yet act. The failure is retried like any
    // other (the action carries its idempotency key, so a retry that lands twice changes
    // nothing), and the message names the survivor for whoever reads the history.
    throw ApplicationFailure.create({ type: 'CommandStillRunning', message: `${what}: a process of the command survived SIGKILL of its group (it left the group?)` });
  }
  if (result.exitCode !== 0) {
    const why = result.timedOut ? `timed out after ${result.durationMs} ms (its whole process group was killed)` : `exited ${result.exitCode ?? result.signal}`;
    throw ApplicationFailure.create({
      type: 'ActionFailed',
      message: `${what} ${why}: ${result.stderr.slice(0, 500) || result.stdout.slice(0, 500)}`,
      details: [{ exitCode: result.exitCode, timedOut: result.timedOut, ended: result.ended, stderr: result.stderr, stdout: result.stdout }],
    });
  }
  return { ok: true, ...id, exitCode: 0, durationMs: result.durationMs, output: result.stdout.slice(0, 1000) };
}

/** What the agent itself says of a change's stage markers (its catalogue's verify-marker: exit 0 present, 1 absent). */
export interface MarkerReading {
  agent: string;
  change: string;
  present: number[];
  absent: number[];
  /** Stages the check could not tell (another exit code, a timeout): neither present nor absent. */
  unknown: Array<{ stage: number; detail: string }>;
}

/** The markers before stage 1, and the baseline when the agent has none of the change (null: nothing measured). */
export interface PrepareResult {
  markers: MarkerReading;
  measured: BaselineResult | null;
}

/**
 * Activities that must run on the agent's own machine: actions from this machine's catalogue
 * and probes of its agents. Served by workers/machine-worker on the machine's task queue.
 */
export function createMachineActivities(deps: MachineActivityDeps) {
  const runner = new CatalogueRunner(deps.catalogue, deps.inventory.agents, deps.values);
  const host = deps.inventory.machines.find((m) => m.name === deps.machine)?.host ?? '127.0.0.1';
  const loadSource: LoadSource =
    deps.catalogue.probes.load === 'simulator'
      ? { kind: 'simulator', adminUrl: deps.values.simulatorAdmin, machine: deps.machine }
      : { kind: 'load-average' };
  const healthUrl = (agent: string) => {
    const a = runner.agent(agent);
    return `http://${host}:${a.healthPort}${a.healthPath}`;
  };

  const timed = probeTimer(deps.meter ?? null, deps.machine);
  /** The process ids each agent last named on its health endpoint (an agent down a moment keeps its last). */
  const pidsSeen = new Map<string, number[]>();
  // The looping nvidia-smi, when the catalogue asks for it (probes.gpu.loopMs).
  const gpuSpec = deps.catalogue.probes.gpu;
  const gpuState: GpuProbeState = newGpuProbeState();
  if (gpuSpec?.loopMs) {
    const reader = new GpuMemoryReader({ ...gpuSpec, loopMs: gpuSpec.loopMs }, deps.values.projectRoot);
    reader.start();
    gpuState.reader = reader;
  }

  /**
   * One reading of every probe of the agent, and the response times of its controls.
   * `intervalMs`: how often its window samples; a GPU reading another window took less than half
   * that long ago is shared (activities/machine/probes.ts). Without it (a one-off probe, as after
   * a rollback) every reading is fresh.
   *
   * The health answers of the agent and its controls are timed first, together, and nothing
   * else starts until they are in: starting a process (the integration check, nvidia-smi) blocks
   * the event loop for milliseconds, longer on a busy machine, and an answer timed across it
   * looks slower than the answers timed beside it (a real-stack CPU-hog run rolled back an
   * unchanged agent for 22 ms over its controls while its integration check was started during
   * its own health request).
   */
  async function sample(agent: string, responseThresholdMs: number, checkIntegration: boolean, queries: QueryProbes = [], intervalMs = 0, controls: readonly string[] = []): Promise<{ readings: Reading[]; controlReadings: Reading[][] }> {
    const [health, ...controlReadings] = await Promise.all([
      timed('response', () => probeHealth(healthUrl(agent), responseThresholdMs)),
      ...controls.map((c) => timed('response', () => readResponse(healthUrl(c), responseThresholdMs))),
    ]);
    // The GPU reading needs the health answer anyway: it names the agent's processes.
    if (health.pids.length) pidsSeen.set(agent, health.pids);
    const [gpu, load, integration, asked] = await Promise.all([
      timed('gpu', () => readGpuMemory(deps.catalogue, deps.values.projectRoot, pidsSeen.get(agent) ?? null, gpuState, Math.min(gpuSharedForMs, intervalMs / 2))),
      timed('load', () => readLoad(loadSource)),
      checkIntegration ? timed('integration', () => readIntegration(runner, agent)) : Promise.resolve(null),
      Promise.all(queries.map((q) => timed('query', () => readQuery(agent, q)))),
    ]);
    return { readings: [...health.readings, gpu, ...load, ...(integration ? [integration] : []), ...asked], controlReadings };
  }

  /** A plan's PromQL probe, asked of this machine's Prometheus (its catalogue's probes.prometheus). */
  function readQuery(agent: string, q: { name: string; query: string }): Promise<Reading> {
    const prom = deps.catalogue.probes.prometheus;
    if (!prom) return Promise.resolve({ metric: 'query', probe: q.name, status: 'no-data', detail: `query ${q.name}: the plan asks Prometheus, but ${deps.machine}'s catalogue names none (probes.prometheus)` });
    return readPromQuery(prom.url, prom.timeoutMs, q, { agent, machine: deps.machine });
  }

  /** Names a workflow gave as controls, kept only if this machine's own inventory has them on this machine. */
  const controlsHere = (names: readonly string[] | undefined, max: number) => (names ?? []).filter((n) => deps.inventory.agents.some((a) => a.name === n && a.machine === deps.machine)).slice(0, max);

  /** One sample of the agent, with its controls' response times measured at the same moment (sample). */
  async function probeTick(agent: string, controls: readonly string[], responseThresholdMs: number, checkIntegration: boolean, queries: QueryProbes, intervalMs: number): Promise<{ readings: Reading[]; tick: Tick | null }> {
    const { readings, controlReadings } = await sample(agent, responseThresholdMs, checkIntegration, queries, intervalMs, controls);
    const responseOf = (rs: Reading[]) => {
      const r = rs.find((x) => x.metric === 'responseTimeMs');
      const down = rs.some((x) => x.metric === 'agentUp' && x.status === 'measured' && x.value === 0);
      return r?.status === 'measured' && !down ? r.value : Number.NaN;
    };
    const agentMs = responseOf(readings);
    return { readings, tick: Number.isFinite(agentMs) ? { agentMs, controlsMs: controlReadings.map(responseOf) } : null };
  }

  const round2 = (n: number) => Math.round(n * 100) / 100;

  /** Baseline before stage 1: response time p50/p95 over several samples, GPU memory, load. */
  async function baselineOf(req: BaselineRequest): Promise<BaselineResult> {
    const response: number[] = [];
    const gpu: number[] = [];
    const loads: number[] = [];
    let probeErrors = 0;
    let lastGpu: Reading = { metric: 'gpuMemoryPct', status: 'no-data', detail: 'not sampled' };
    const candidates = controlsHere(req.controls, maxControlCandidates);
    const ticks: Tick[] = [];
    const perCore: number[] = [];
    let integration: Reading | null = null;
    for (let i = 0; i < req.samples; i++) {
      // The integration check runs once, with the first sample: the pre-flight check reads it.
      const { readings, tick: t } = await probeTick(req.agent, candidates, req.responseThresholdMs, i === 0 && req.checkIntegration === true, [], req.intervalMs);
      if (t) ticks.push({ agentMs: round2(t.agentMs), controlsMs: t.controlsMs.map(round2) });
      for (const r of readings) {
        if (r.status === 'no-data') probeErrors++;
        if (r.metric === 'gpuMemoryPct') lastGpu = r;
        if (r.status !== 'measured') continue;
        if (r.metric === 'responseTimeMs') response.push(r.value);
        if (r.metric === 'gpuMemoryPct') gpu.push(r.value);
        if (r.metric === 'load') loads.push(r.value);
        if (r.metric === 'loadPerCore') perCore.push(r.value);
      }
      integration = readings.find((r) => r.metric === 'integration') ?? integration;
      Context.current().heartbeat({ sampled: i + 1 });
      if (i + 1 < req.samples) await Context.current().sleep(req.intervalMs);
    }
    if (response.length === 0) {
      throw ApplicationFailure.create({ type: 'BaselineUnavailable', message: `no response-time sample of ${req.agent} succeeded; cannot take a baseline` });
    }
    // Of the candidates, the controls are those closest in speed to the agent; the ticks keep only theirs.
    const medianOfCandidate = (i: number) => medianOf(ticks.map((t) => t.controlsMs[i]!).filter((ms) => Number.isFinite(ms) && ms > 0));
    const controls = closestControls(medianOf(response), candidates.map((name, i) => ({ name, medianMs: medianOfCandidate(i) })));
    const kept = controls.map((c) => candidates.indexOf(c));
    const baselineTicks = ticks.map((t) => ({ agentMs: t.agentMs, controlsMs: kept.map((i) => t.controlsMs[i]!) }));
    const preflight: PreflightReadings = {
      integration,
      gpuMemoryPct: gpu.length ? medianOf(gpu) : null,
      load: loads.length ? medianOf(loads) : null,
      loadPerCore: perCore.length ? medianOf(perCore) : null,
    };
    return { baseline: { ...computeBaseline(response, gpu, loads), ticks: baselineTicks, ...(controls.length ? { controls } : {}) }, gpu: lastGpu, samples: req.samples, probeErrors, preflight };
  }

  /**
   * Reads a change's stage markers back from the agent, one verify-marker per stage: after a
   * rollback the record must say what the machine says, not what the workflow intended.
   */
  async function markersOf(req: MarkersRequest): Promise<MarkerReading> {
    const reading: MarkerReading = { agent: req.agent, change: req.change, present: [], absent: [], unknown: [] };
    for (const stage of req.stages) {
      // A check that could not tell (a timeout, the agent's store busy) is asked again before it
      // counts as unknown: an unknown marker refuses a migration or stops a rollback for a person.
      for (let attempt = 1; ; attempt++) {
        const result = await withHeartbeat((signal) => runner.run({ action: 'verify-marker', agent: req.agent, change: req.change, stage }, signal));
        if (result.ended === 'cancelled') throw new CancelledFailure('marker read-back cancelled');
        if (result.exitCode === 0) reading.present.push(stage);
        else if (result.exitCode === 1) reading.absent.push(stage);
        else if (attempt < markerReadAttempts) {
          await Context.current().sleep(markerReadPauseMs * attempt);
          continue;
        } else {
          const why = result.timedOut ? `timed out after ${result.durationMs} ms` : `exited ${result.exitCode ?? result.signal}: ${result.stderr.slice(0, 200)}`;
          reading.unknown.push({ stage, detail: `${why} (asked ${attempt} times)` });
        }
        break;
      }
    }
    return reading;
  }

  return {
    async describeMachine(): Promise<MachineDescription> {
      const mem = await si.mem();
      return {
        machine: deps.machine,
        hostname: os.hostname(),
        pid: process.pid,
        cpus: os.cpus().length,
        load1: os.loadavg()[0] ?? 0,
        memUsedPct: Math.round((mem.active / mem.total) * 1000) / 10,
        agents: deps.inventory.agents.filter((a) => a.machine === deps.machine).length,
      };
    },

    /** Runs one catalogue action. Idempotent by the request's key; a failure is retryable. */
    async runAction(req: ActionRequest): Promise<ActionOutcome> {
      const what = `${req.action} of ${req.agent}${req.stage ? ` stage ${req.stage}` : ''} on ${deps.machine}`;
      const result = await withHeartbeat((signal) => runner.run(req, signal));
      Context.current().log.info('catalogue action', { action: req.action, agent: req.agent, change: req.change, stage: req.stage, exitCode: result.exitCode, durationMs: result.durationMs });
      return outcomeOf(what, result, { action: req.action, agent: req.agent });
    },

    /**
     * Runs catalogue actions one after the other (a stage's backup, apply and marker check: one
     * activity, so one line of history instead of three, and one workflow task). Stops at the
     * first that fails, with that action's failure; a retry runs them all again, which changes
     * nothing already done, since each carries its own idempotency key (the marker check none:
     * it only reads).
     */
    async runActions(reqs: ActionRequest[]): Promise<ActionOutcome[]> {
      if (!Array.isArray(reqs) || reqs.length === 0 || reqs.length > 3) throw ApplicationFailure.nonRetryable('runActions takes 1 to 3 actions (its workflow side allows three commands of the longest catalogue timeout)', 'InvalidRequest');
      const outcomes: ActionOutcome[] = [];
      for (const req of reqs) {
        const what = `${req.action} of ${req.agent}${req.stage ? ` stage ${req.stage}` : ''} on ${deps.machine}`;
        const result = await withHeartbeat((signal) => runner.run(req, signal));
        Context.current().log.info('catalogue action', { action: req.action, agent: req.agent, change: req.change, stage: req.stage, exitCode: result.exitCode, durationMs: result.durationMs });
        outcomes.push(outcomeOf(what, result, { action: req.action, agent: req.agent }));
      }
      return outcomes;
    },

    /** Runs a named operation of this machine's catalogue, or its undo (an `action` step of a plan). */
    async runOperation(req: { name: string; direction: 'run' | 'undo'; idempotencyKey: string }): Promise<ActionOutcome> {
      const what = `${req.direction === 'undo' ? 'undo of ' : ''}operation ${req.name} on ${deps.machine}`;
      const result = await withHeartbeat((signal) => runner.runOperation(req.name, req.direction, req.idempotencyKey, signal));
      Context.current().log.info('catalogue operation', { name: req.name, direction: req.direction, exitCode: result.exitCode, durationMs: result.durationMs });
      return outcomeOf(what, result, { action: req.direction === 'run' ? 'operation' : 'operation-undo', agent: req.name });
    },

    /** Baseline before stage 1: response time p50/p95 over several samples, GPU memory, load. */
    measureBaseline: baselineOf,

    /**
     * Before stage 1, in one activity: the agent's markers of the change read back (does it
     * already have some of it?) and, only when it has none, its baseline and pre-flight
     * readings. One line of history and one workflow task instead of two of each; both parts
     * only read, so a retry repeats them harmlessly.
     */
    async prepareMigration(req: PrepareRequest): Promise<PrepareResult> {
      const markers = await markersOf({ agent: req.agent, change: req.change, stages: req.stages });
      if (markers.present.length || markers.unknown.length) return { markers, measured: null };
      return { markers, measured: await baselineOf(req) };
    },

    /**
     * One verification window: samples every interval, heartbeats its progress, and returns
     * as soon as a trigger fires, with the evidence. The history gets one event per window,
     * not per sample. A retry after a worker crash resumes from the last heartbeat.
     */
    async verifyWindow(req: WindowRequest): Promise<WindowResult> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as WindowProgress | undefined;
      let state = resumed?.state ?? initialEvaluationState();
      let ticks: Tick[] = resumed?.ticks ?? [];
      // The baseline's choice of controls, in its order: a window's ticks line up with the baseline's.
      const controls = controlsHere(req.baseline?.controls ?? [], maxControls);
      const judgeSettings: JudgeSettings = {
        ...defaultJudgeSettings,
        degradationPct: req.thresholds.degradationPct,
        degradationMinDeltaMs: req.thresholds.degradationMinDeltaMs,
        alpha: req.thresholds.degradationAlpha ?? defaultJudgeSettings.alpha,
        minSamples: req.thresholds.degradationMinSamples ?? defaultJudgeSettings.minSamples,
      };
      const startedAt = Date.now() - (resumed?.elapsedMs ?? 0);
      const escalations: TriggerEvidence[] = [];
      let lastReadings: Reading[] = [];
      for (;;) {
        const tick = Date.now();
        let readings: Reading[];
        try {
          const sampled = await probeTick(req.agent, controls, req.thresholds.responseTimeMs, req.checkIntegration, req.thresholds.queries ?? [], req.sampleIntervalMs);
          readings = sampled.readings;
          if (sampled.tick) ticks.push({ agentMs: round2(sampled.tick.agentMs), controlsMs: sampled.tick.controlsMs.map(round2) });
          if (ticks.length > maxWindowTicks) ticks = ticks.filter((_, i) => i % 2 === 1);
        } catch (err) {
          readings = [{ metric: 'responseTimeMs', status: 'no-data', detail: `probe crashed: ${(err as Error).message}` }];
        }
        lastReadings = readings;
        const judged = evaluateSample(readings, req.baseline, req.thresholds, state);
        state = judged.state;
        for (const e of judged.result.escalations) if (escalations.length < 10) escalations.push(e);
        const elapsedMs = Date.now() - startedAt;
        const base = {
          escalations,
          samples: state.samples,
          probeErrors: state.probeErrors,
          elapsedMs,
          lastReadings,
          notApplicable: readings.filter((r) => r.status === 'not-applicable').map((r) => `${r.metric}: ${r.detail}`),
        };
        if (judged.result.verdict === 'fail') return { verdict: 'fail', trigger: judged.result.trigger, ...base };
        if (judged.result.verdict === 'inconclusive') return { verdict: 'inconclusive', reason: judged.result.reason, ...base };
        if (elapsedMs >= req.durationMs) {
          // The window is over: degradation is judged on all of it, against the controls.
          const v = judgeDegradation(req.baseline?.ticks ?? [], ticks, judgeSettings);
          const degradation: WindowDegradation = { verdict: v.verdict, method: v.method, detail: v.detail, baselineTicks: v.baselineTicks, windowTicks: v.windowTicks, ...(v.verdict !== 'insufficient' ? { p: v.p, slowdownPct: v.slowdownPct, slowdownMs: v.slowdownMs, medians: v.medians } : {}) };
          if (v.verdict === 'degraded') {
            const trigger: TriggerEvidence = { kind: 'degradation', measured: v.slowdownPct, threshold: req.thresholds.degradationPct, unit: '%', detail: v.detail };
            return { verdict: 'fail', trigger, degradation, ...base };
          }
          return { verdict: 'pass', degradation, ...base };
        }
        ctx.heartbeat({ elapsedMs, state, ticks } satisfies WindowProgress);
        const wait = Math.max(0, Math.min(req.sampleIntervalMs - (Date.now() - tick), req.durationMs - elapsedMs));
        await ctx.sleep(wait); // throws CancelledFailure when the workflow cancels the window
      }
    },

    /**
     * Reads a change's stage markers back from the agent, one verify-marker per stage: after a
     * rollback the record must say what the machine says, not what the workflow intended.
     */
    readMarkers: markersOf,

    /** One window of this machine's heartbeats for the validation, summarised. */
    summarizeHeartbeats: createHeartbeatSummarizer(deps.machine, deps.nats),

    /** One snapshot of the agent, e.g. to confirm it is healthy again after an undo. */
    async probeAgent(req: { agent: string; responseThresholdMs: number; checkIntegration: boolean }): Promise<Reading[]> {
      return (await sample(req.agent, req.responseThresholdMs, req.checkIntegration)).readings;
    },
  };
}

export type MachineActivities = ReturnType<typeof createMachineActivities>;
