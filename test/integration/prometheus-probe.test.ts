import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../lib/stack';
import { until } from '../support/drills';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { fastPlan, startMigration } from '../support/migration';

/**
 * A plan's PromQL probe against a real Prometheus (Debian's package, installed by
 * scripts/setup.sh): the server scrapes the simulator's per-agent metrics every second, the
 * machine worker asks it the plan's query with the agent's labels, and a result over the
 * limit rolls the agent back. With the server down, the query is no data: no rollback.
 */
describe('Prometheus as a probe source, against a real Prometheus server', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;
  let prometheus: ChildProcess | null = null;
  let promPort = 0;
  const query = { name: 'error-ratio', query: 'max(phasegate_sim_agent_error_ratio{agent="{agent}",machine="{machine}"})', above: 0.05 };
  const plan = (over: object = {}) => fastPlan({ thresholds: { queries: [query], ...over }, timings: { stageVerificationMs: 4000, rapidVerificationMs: 4000 } });

  async function startPrometheus(): Promise<void> {
    const dir = path.join(env.dataDir, 'prometheus');
    mkdirSync(dir, { recursive: true });
    const admin = new URL(env.simulatorAdmin);
    writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: simulator\n    static_configs:\n      - targets: ['${admin.host}']\n`);
    prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' });
    // Ready, and the simulator scraped at least once.
    await until('Prometheus to scrape the simulator', 60_000, async () => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent('up{job="simulator"}')}`).catch(() => null);
      const body = res?.ok ? ((await res.json()) as { data: { result: Array<{ value: [number, string] }> } }) : null;
      return body?.data.result[0]?.value[1] === '1' ? true : undefined;
    });
  }

  before(async () => {
    promPort = await freePort();
    env = await startTestStack({ edit: ({ catalogues }) => (catalogues.mainpc.probes.prometheus = { url: `http://127.0.0.1:${promPort}`, timeoutMs: 1000 }) });
    sim = simulatorClient(env.simulatorAdmin);
    await startPrometheus();
  });
  after(async () => {
    prometheus?.kill('SIGKILL');
    await env?.stop();
  });

  it('a query over its limit rolls the agent back, with the query and its value as the evidence', async () => {
    const agent = 'ChitchatAgent';
    // Caused by the change: 20 % of requests fail once a stage is applied.
    await sim.fault(agent, { errorRatio: 0.2, clearOnUndo: true });
    const result = await (await startMigration(env, agent, plan())).result();
    assert.equal(result.outcome, 'rolled-back', JSON.stringify(result.lastWindow));
    assert.equal(result.trigger?.kind, 'prometheus-query');
    assert.equal(result.trigger?.measured, 0.2);
    assert.equal(result.trigger?.threshold, 0.05);
    assert.match(result.trigger!.detail, /query error-ratio = 0.2, over 0.05 \(max\(phasegate_sim_agent_error_ratio\{agent="ChitchatAgent",machine="mainpc"\}\)\)/);
    const view = await sim.agent(agent);
    assert.deepEqual(view.changes, {}, 'the fleet has none of the change');
    console.log(`prometheus probe: ${result.trigger!.detail}; rolled back in ${result.rollback?.durationMs} ms`);
  });

  it('with the server down the query is no data, not a trigger: the agent is migrated', async () => {
    prometheus?.kill('SIGKILL');
    prometheus = null;
    const agent = 'ResponderAgent';
    // No data in every sample: the plan lets a window pass on it rather than wait for a person.
    const result = await (await startMigration(env, agent, plan({ maxConsecutiveProbeErrors: 1000 }))).result();
    assert.equal(result.outcome, 'migrated', JSON.stringify(result.trigger));
    assert.equal(result.trigger, null);
    const q = result.lastReadings.find((r) => r.metric === 'query');
    assert.equal(q?.status, 'no-data');
    assert.match(q!.detail ?? '', /query error-ratio: Prometheus unreachable \(ECONNREFUSED\)/);
    assert.ok((result.lastWindow?.probeErrors ?? 0) > 0);
    assert.deepEqual([...((await sim.agent(agent)).changes[result.change] ?? [])].sort(), [1, 2, 3]);
  });
});
