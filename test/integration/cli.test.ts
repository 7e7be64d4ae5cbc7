import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { PlanPreview } from '../../plan/preview';
import { projectRoot } from '../../lib/paths';
import type { StartedPhase } from '../../cli/start';
import type { PhaseStatus } from '../../workflows/phase';
import type { WeekStatus } from '../../workflows/week';
import { freePort } from '../../lib/stack';
import { until } from '../support/drills';
import { startTestStack, type TestStack } from '../support/harness';

const run = promisify(execFile);
const cli = path.join(projectRoot, 'dist/cli/main.js');

type Failure = Error & { code: number; stdout: string; stderr: string };
type Status = { phase: PhaseStatus | null; week: WeekStatus | null; execution: string };

/** Two short weeks, an agent on each machine per week. */
const plan = (id: string) => ({
  version: 1,
  id,
  title: `the project CLI (${id})`,
  thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
  timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  weeks: [
    {
      id: 'week1',
      title: 'one agent per machine',
      steps: [{ id: 'w1', migrate: { change: `${id}-w1`, select: { agents: ['ChitchatAgent', 'WebSearchAgent'] }, pilots: 0, batchSize: 2, maxConcurrentPerMachine: 1 } }],
      gate: { criteria: [{ kind: 'all-migrated' }] },
    },
    {
      id: 'week2',
      title: 'two more',
      steps: [{ id: 'w2', migrate: { change: `${id}-w2`, select: { agents: ['ResponderAgent', 'UserProfileAgent'] }, pilots: 0, batchSize: 2, maxConcurrentPerMachine: 1 } }],
      gate: { criteria: [{ kind: 'all-migrated' }] },
    },
  ],
});

describe('the phasegate CLI on a running phase', () => {
  let env: TestStack;
  const phasegate = (...args: string[]) => run(process.execPath, [cli, ...args, '--config', env.config.configDir]);
  const fails = async (args: string[], code: number, message: RegExp) => {
    const err = await phasegate(...args).then(
      () => null,
      (e: Failure) => e,
    );
    assert.ok(err, `phasegate ${args.join(' ')} should fail`);
    assert.equal(err.code, code, `exit code of phasegate ${args.join(' ')}: ${err.stderr}`);
    assert.match(err.stderr, message);
  };
  const status = async (id: string): Promise<Status> => JSON.parse((await phasegate('status', id, '--json')).stdout) as Status;
  const writePlan = (id: string) => {
    const file = path.join(env.dataDir, `${id}.json`);
    writeFileSync(file, JSON.stringify(plan(id)));
    return file;
  };

  before(async () => {
    env = await startTestStack();
  });
  after(async () => env?.stop());

  it('plan check --json previews weeks and batches; a bad plan is refused with its file, field and reason', async () => {
    const preview = JSON.parse((await phasegate('plan', 'check', writePlan('cli-preview'), '--json')).stdout) as PlanPreview;
    assert.deepEqual(preview.weeks.map((w) => w.id), ['week1', 'week2']);
    const step = preview.weeks[0]!.steps[0]!;
    assert.equal(step.kind, 'migrate');
    assert.deepEqual(step.kind === 'migrate' && step.batches.flat().map((a) => [a.agent, a.machine]), [['ChitchatAgent', 'mainpc'], ['WebSearchAgent', 'pc2']]);
    const bad = path.join(env.dataDir, 'bad-plan.json');
    writeFileSync(bad, JSON.stringify({ ...plan('bad'), weeks: [{ ...plan('bad').weeks[0], steps: [{ id: 'x', migrate: { change: 'c', select: { agents: ['NoSuchAgent'] } } }] }] }));
    await fails(['plan', 'check', bad], 2, /bad-plan\.json[\s\S]*weeks\[0\]\.steps\[0\]\.migrate\.select\.agents\[0\]: unknown agent "NoSuchAgent"/);
  });

  it('start, status (json, plain, watched and live), pause, resume, gate go and rollback-week, report', async () => {
    const id = 'phase.cli-main.test';
    const started = JSON.parse((await phasegate('start', writePlan('cli-main'), '--id', id, '--json')).stdout) as StartedPhase;
    assert.equal(started.workflowId, id);
    assert.deepEqual(started.weeks, ['week1', 'week2']);
    assert.equal(started.agents, 4);
    assert.match(started.uiUrl ?? '', new RegExp(`/namespaces/default/workflows/${id.replace(/\./g, '\\.')}$`));
    await fails(['start', writePlan('cli-main'), '--id', id], 1, /phase id "phase\.cli-main\.test" is already taken by a running phaseWorkflow .*; follow it with `phasegate status phase\.cli-main\.test`/);

    // Followed while piped: a plain block per change, until the phase ends.
    const watched = spawn(process.execPath, [cli, 'status', id, '--watch', '--interval', '0.5', '--config', env.config.configDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let watchedOut = '';
    watched.stdout.on('data', (d: Buffer) => (watchedOut += d.toString()));
    const watchedExit = new Promise<number | null>((r) => watched.on('exit', r));
    // Followed on a terminal (a pseudo-terminal from util-linux `script`): redrawn in place.
    const live = spawn('script', ['-qfec', `${process.execPath} ${cli} status ${id} --interval 0.5 --config ${env.config.configDir}`, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let liveOut = '';
    live.stdout.on('data', (d: Buffer) => (liveOut += d.toString()));
    const liveExit = new Promise<number | null>((r) => live.on('exit', r));

    await until('week1 running', 60_000, async () => ((await status(id)).week?.week === 'week1' ? true : undefined));
    await fails(['gate', 'go', id], 1, /gate cli-main\.week1\.gate is not open \(week week1 is running\); decide it when `phasegate status` shows it open/);

    assert.match((await phasegate('pause', id, '--by', 'erin', '--reason', 'change freeze')).stdout, /pause sent to phase\.cli-main\.test/);
    const held = await status(id);
    assert.equal(held.phase?.paused?.by, 'erin');
    assert.match((await phasegate('status', id)).stdout, /^phase cli-main: running \(paused by erin: change freeze\)/);
    await phasegate('resume', id, '--by', 'erin');
    await until('resumed', 10_000, async () => ((await status(id)).phase?.paused === null ? true : undefined));

    await until('the week1 gate to open', 120_000, async () => ((await status(id)).week?.state === 'gate-open' ? true : undefined));
    const plain = (await phasegate('status', id)).stdout;
    assert.match(plain, /week week1 \(one agent per machine\): gate-open; batches 1\/1/);
    assert.match(plain, /mainpc +migrated 1, waiting 0, rolled back 0/);
    assert.match(plain, /pc2 +migrated 1, waiting 0, rolled back 0/);
    assert.match(plain, /gate cli-main\.week1\.gate: OPEN \(criteria met; decide with `phasegate gate go\|hold\|rollback-week phase\.cli-main\.test`\)/);
    assert.match(plain, /met +2 of 2 agents migrated/);
    assert.match((await phasegate('gate', 'go', id, '--by', 'erin', '--reason', 'clean')).stdout, /gate cli-main\.week1\.gate: go by erin/);
    await fails(['gate', 'go', `${id}.week1`], 1, /gate cli-main\.week1\.gate is not open \(week week1 is done\)/);

    await until('the week2 gate to open', 120_000, async () => {
      const s = await status(id);
      return s.week?.week === 'week2' && s.week.state === 'gate-open' ? true : undefined;
    });
    assert.match((await phasegate('gate', 'rollback-week', id, '--by', 'erin', '--reason', 'latency looked off')).stdout, /gate cli-main\.week2\.gate: rollback-week by erin/);

    assert.equal(await watchedExit, 0, 'the watch ends with the phase');
    assert.equal(await liveExit, 0, 'the live view ends with the phase');
    const blocks = watchedOut.split(/^--- \S+$/m).filter((b) => b.trim());
    assert.ok(blocks.length >= 4, `a block per change (${blocks.length})`);
    assert.ok(blocks.some((b) => /gate-open/.test(b)) && blocks.some((b) => /paused by erin/.test(b)), 'the changes are in the blocks');
    assert.match(blocks.at(-1)!, /phase cli-main: done, stopped[\s\S]*week week2 \(two more\): done, rolled-back[\s\S]*workflow phase\.cli-main\.test completed/);
    assert.doesNotMatch(watchedOut, /\x1b\[/, 'no terminal escapes when piped');
    const redraws = liveOut.split('\x1b[H\x1b[2J').length - 1;
    assert.ok(redraws >= 5, `redrawn in place on a terminal (${redraws} times)`);
    assert.match(liveOut, /refreshing every 0\.5 s/);

    const done = await status(id);
    assert.equal(done.execution, 'completed');
    assert.equal(done.phase?.outcome, 'stopped');
    const reportJson = JSON.parse((await phasegate('report', id, '--json')).stdout) as { phase: PhaseStatus; weeks: WeekStatus[] };
    assert.deepEqual(reportJson.weeks.map((w) => [w.week, w.outcome]), [['week1', 'passed'], ['week2', 'rolled-back']]);
    const md = (await phasegate('report', id)).stdout;
    assert.match(md, /^# Phase cli-main: the project CLI \(cli-main\)/);
    assert.match(md, /- go by erin at \S+: clean/);
    assert.match(md, /- rollback-week by erin at \S+: latency looked off/);
    assert.match(md, /- level-2 rollback: gate decision by erin: latency looked off; 2 undone/);
    await fails(['report', `${id}.week1`], 1, /week week1 has not run a validation yet/);
  });

  it('abort --level 2 --wait follows the rollback to the end', async () => {
    const id = 'phase.cli-abort.test';
    await phasegate('start', writePlan('cli-abort'), '--id', id);
    await until('a migration in week1', 60_000, async () => ((await status(id)).week?.agents.some((a) => a.state === 'migrated' || a.state === 'running') ? true : undefined));
    await fails(['abort', id, '--level', '4'], 1, /abort needs --level 1, 2 or 3/);
    const { stdout } = await phasegate('abort', id, '--level', '2', '--by', 'erin', '--reason', 'pager', '--wait');
    assert.match(stdout, /abort at level 2 sent to phase\.cli-abort\.test/);
    assert.match(stdout, /phase cli-abort: done, aborted/);
    const s = await status(id);
    assert.equal(s.phase?.outcome, 'aborted');
    assert.equal(s.week?.outcome, 'aborted');
    assert.equal(s.week?.applied.length, 0, 'nothing of the week left in place');
  });

  it('clear messages and non-zero exits: wrong ids, a finished phase, wrong arguments', async () => {
    await fails(['status', 'phase.no-such'], 1, /no workflow "phase\.no-such": list phases with `\.tools\/bin\/temporal workflow list/);
    await fails(['pause', 'phase.no-such'], 1, /no workflow "phase\.no-such"/);
    await fails(['report', 'phase.no-such'], 1, /no workflow "phase\.no-such"/);
    await fails(['gate', 'approve', 'phase.cli-main.test'], 1, /"gate approve" is now "gate go"/);
    await fails(['gate', 'go', 'phase.cli-main.test'], 1, /phase cli-main has no week running \(state done, outcome stopped\)/);
    await fails(['gate', 'maybe', 'phase.cli-main.test'], 2, /usage:\n {2}phasegate gate go\|hold\|rollback-week ID/);
    await fails(['status'], 2, /phasegate status ID/);
    await fails(['status', 'x', '--interval', '0'], 1, /--interval 0: give seconds between 0\.2 and 3600/);
    await fails(['status', 'x', '--bogus'], 2, /Unknown option '--bogus'/);
    // A configuration whose Temporal is not there.
    const nowhere = path.join(env.dataDir, 'config-nowhere');
    cpSync(env.config.configDir, nowhere, { recursive: true });
    const deployment = JSON.parse(readFileSync(path.join(nowhere, 'deployment.json'), 'utf8'));
    const port = await freePort();
    deployment.temporal.port = port;
    writeFileSync(path.join(nowhere, 'deployment.json'), JSON.stringify(deployment));
    const elsewhere = await run(process.execPath, [cli, 'status', 'phase.cli-main.test', '--config', nowhere]).then(
      () => null,
      (e: Failure) => e,
    );
    assert.equal(elsewhere?.code, 1);
    assert.match(elsewhere!.stderr, new RegExp(`cannot reach Temporal at 127\\.0\\.0\\.1:${port}: .*Is`));
    assert.match(elsewhere!.stderr, /Is the stack running \(scripts\/demo\.sh\), or does --config point at the right deployment\?/);
  });
});
