import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { projectRoot } from '../../lib/paths';
import { migrationWorkflowId } from '../../workflows/lib/ids';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery } from '../../workflows/week';
import { until } from '../support/drills';
import { startTestStack, type TestStack } from '../support/harness';

/** Debian's chromium on the PATH (scripts/setup.sh --with-test-server installs it). */
function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error("chromium is not on the PATH: run scripts/setup.sh --with-test-server (it installs Debian's chromium)");
  }
}

const plan = (id: string, agents: string[]) =>
  planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id,
    title: `the Web UI (${id})`,
    thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
    timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
    weeks: [{ id: 'week1', title: 'pilots', steps: [{ id: 'pilots', migrate: { change: `${id}-change`, select: { agents }, pilots: 0, batchSize: agents.length } }], gate: { criteria: [{ kind: 'all-migrated' }] } }],
  });

/**
 * The real Temporal Web UI of the dev server, in headless Chromium: filtering the workflow
 * list with phasegate's search attributes, and a migration's history reading as the runbook.
 * Screenshots land in the run's data folder, and in docs/ with PHASEGATE_UPDATE_SCREENSHOTS=1.
 */
describe('the Temporal Web UI shows phasegate runs as an operator reads them', () => {
  let env: TestStack;
  let browser: Browser;
  let page: Page;
  let ui: string;
  const phaseId = 'phase.webui.test';
  const otherId = 'phase.webui-other.test';
  const agent = { name: 'WebSearchAgent', machine: 'pc2' };

  before(async () => {
    env = await startTestStack();
    ui = `http://127.0.0.1:${(env.config.deployment.temporal as { uiPort: number }).uiPort}`;
    const start = (id: string, p: ReturnType<typeof plan>) =>
      env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: id, args: [phaseInput(p, env.config.inventory)] });
    await start(phaseId, plan('webui', ['ChitchatAgent', agent.name]));
    await start(otherId, plan('webui-other', ['ResponderAgent']));
    // Both weeks stop at their gates (open, waiting for a person): every migration has ended.
    for (const id of [phaseId, otherId]) {
      await until(`the gate of ${id}`, 120_000, async () => ((await env.client.workflow.getHandle(weekWorkflowId(id, 'week1')).query(weekStatusQuery).catch(() => null))?.state === 'gate-open' ? true : undefined));
    }
    browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
  });
  after(async () => {
    await browser?.close();
    await env?.stop();
  });

  const bodyText = () => page.evaluate('document.body.innerText') as Promise<string>;

  /** Opens a UI page and waits until its text satisfies `ok` (the UI renders after its API calls; visibility lags a little). */
  async function openUntil(url: string, what: string, ok: (text: string) => boolean): Promise<string> {
    let text = '';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      await page.goto(url, { waitUntil: 'networkidle0', timeout: 60_000 });
      for (let i = 0; i < 10; i++) {
        text = await bodyText();
        if (ok(text)) return text;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    assert.fail(`${what}: not shown at ${url}; the page read:\n${text.slice(0, 3000)}`);
  }

  async function screenshot(name: string): Promise<void> {
    const file = path.join(env.dataDir, name);
    await page.screenshot({ path: file as `${string}.png` });
    if (process.env.PHASEGATE_UPDATE_SCREENSHOTS === '1') {
      mkdirSync(path.join(projectRoot, 'docs'), { recursive: true });
      cpSync(file, path.join(projectRoot, 'docs', name));
    }
  }

  const migrationOf = (name: string) => migrationWorkflowId(weekWorkflowId(phaseId, 'week1'), name, 'webui-change');
  const listUrl = (query: string) => `${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;

  it('the workflow list filtered by PhasegatePhase shows the phase, its week and its migrations, and nothing of another phase', async () => {
    const ours = [phaseId, weekWorkflowId(phaseId, 'week1'), migrationOf('ChitchatAgent'), migrationOf(agent.name)];
    const text = await openUntil(listUrl('PhasegatePhase="webui"'), 'the phase, its week and both migrations', (t) => ours.every((id) => t.includes(id)));
    assert.ok(!text.includes('webui-other'), 'nothing of the other phase');
    await screenshot('web-ui-workflows-filtered.png');
  });

  it('filters by agent, machine, risk band, strategy, outcome and open gate', async () => {
    const migration = migrationOf(agent.name);
    const cases: Array<{ query: string; shows: string[]; hides: string[] }> = [
      { query: `PhasegateAgent="${agent.name}"`, shows: [migration], hides: ['ChitchatAgent', 'ResponderAgent'] },
      { query: 'PhasegateMachine="pc2" AND PhasegatePhase="webui"', shows: [migration], hides: ['ChitchatAgent'] },
      { query: 'PhasegateRiskBand="low" AND PhasegateStrategy="rapid" AND PhasegateOutcome="migrated" AND PhasegatePhase="webui"', shows: [migration], hides: ['webui-other'] },
      // The open gate is kept current: set while the gate waits, so the week waiting for a decision is one query away.
      { query: 'PhasegateOpenGate="webui.week1.gate"', shows: [weekWorkflowId(phaseId, 'week1')], hides: ['webui-other', migration] },
      { query: 'PhasegateOpenGate IS NOT NULL', shows: [weekWorkflowId(phaseId, 'week1'), weekWorkflowId(otherId, 'week1')], hides: [migration, 'ChitchatAgent'] },
      { query: 'PhasegateStatus="gate-open"', shows: [weekWorkflowId(phaseId, 'week1'), weekWorkflowId(otherId, 'week1')], hides: [migration] },
    ];
    for (const c of cases) {
      const text = await openUntil(listUrl(c.query), c.query, (t) => c.shows.every((id) => t.includes(id)));
      for (const h of c.hides) assert.ok(!text.includes(h), `${c.query} hides ${h}`);
    }
  });

  it("a migration's history reads as the runbook: each activity's summary, and the memo's one-line summary", async () => {
    const id = migrationOf(agent.name);
    const runId = (await env.client.workflow.getHandle(id).describe()).runId;
    const base = `${ui}/namespaces/default/workflows/${encodeURIComponent(id)}/${runId}`;
    const expected = [
      `baseline of ${agent.name} on ${agent.machine}`,
      `stage 1 of 3, infrastructure, on ${agent.machine}, ${agent.name}: backup, apply, check marker`,
      `stage 2 of 3, core logic, on ${agent.machine}, ${agent.name}: backup, apply, check marker`,
      `stage 3 of 3, integration, on ${agent.machine}, ${agent.name}: backup, apply, check marker`,
      `verifyWindow • verify stage 3 of 3, integration of ${agent.name} on ${agent.machine}`,
    ];
    const text = await openUntil(`${base}/history`, 'the activity summaries', (t) => expected.every((e) => t.includes(e)));
    // The timeline reads "runActions • <summary>"; the event rows read "Activity Type runActions, Summary <summary>".
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const activityType = /^(runActions?|readMarkers|prepareMigration|verifyWindow|measureBaseline|probeAgent|publishEvents?|raiseAlert)\b/;
    const timeline = lines.filter((l) => activityType.test(l) && l.includes(' • '));
    const rows = lines.flatMap((l, i) => (lines[i - 1] === 'Activity Type' && activityType.test(l) ? [{ type: l, label: lines[i + 1], summary: lines[i + 2] }] : []));
    assert.ok(timeline.length >= 5, `the timeline names each activity by its summary (markers and baseline, three stages, the verification) (${timeline.length})`);
    assert.ok(rows.length >= 5, `the event rows list the activities (${rows.length})`);
    const bare = rows.filter((r) => r.label !== 'Summary' || !r.summary);
    assert.deepEqual(bare, [], 'every scheduled activity carries a summary, none is shown by its function name alone');
    // Scroll the event history into view for the screenshot.
    await page.evaluate(`[...document.querySelectorAll('h2,h3')].find((e) => e.textContent.includes('Event History'))?.scrollIntoView()`);
    await screenshot('web-ui-history-summaries.png');

    // A migration that simply migrated keeps the summary its week gave it (the brief history,
    // workflows/lib/patches.ts); its outcome is the PhasegateOutcome attribute filtered above.
    await openUntil(`${base}/memo`, 'the memo summary', (t) => new RegExp(`${agent.name} on ${agent.machine}: webui-change, risk \\d+ \\(\\w+\\), \\w+ migration`).test(t));
  });
});
