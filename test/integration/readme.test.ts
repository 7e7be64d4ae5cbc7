import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths';
import type { PhaseStatus } from '../../workflows/phase';
import { weekStatusQuery } from '../../workflows/week';
import { until } from '../support/drills';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';

const run = promisify(execFile);

/**
 * README.md's first rollout, run as written: every command block marked `readme-test` is
 * extracted from the README and run line by line with bash, against a stack of the test's own
 * (the `temporal` CLI finds it through TEMPORAL_ADDRESS, phasegate's CLI through
 * PHASEGATE_CONFIG_DIR), so the README and the product cannot drift apart.
 *
 * Markers: `skip` (the block starts a stack: the test has its own), `run`, `wait-gate ID`
 * (run once that week's gate is open), `run, then wait-end ID` (run, then wait for the
 * workflow to end).
 */
interface Block {
  directive: string;
  lines: string[];
}

export function readmeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /<!-- readme-test: ([^>]*?) -->\n```sh\n([\s\S]*?)```/g;
  for (const m of markdown.matchAll(re)) blocks.push({ directive: m[1]!.trim(), lines: m[2]!.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')) });
  return blocks;
}

describe('the README, as written', () => {
  let env: TestStack;
  before(async () => {
    env = await startTestStack();
  });
  after(async () => env?.stop());

  it('its first rollout runs as written: a phase started, steered, its gate decided and aborted, with the temporal CLI and with phasegate', async () => {
    const blocks = readmeBlocks(readFileSync(path.join(projectRoot, 'README.md'), 'utf8'));
    assert.ok(blocks.length >= 5, `README blocks found: ${blocks.length}`);
    const envVars = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${(env.config.deployment.temporal as { port: number }).port}`, PHASEGATE_CONFIG_DIR: env.config.configDir };
    const ran: string[] = [];
    for (const b of blocks) {
      if (b.directive.startsWith('skip')) continue;
      const gate = /wait-gate (\S+)/.exec(b.directive)?.[1];
      if (gate) {
        await until(`the gate of ${gate}`, 180_000, async () => ((await env.client.workflow.getHandle(gate).query(weekStatusQuery)).gate.open ? true : undefined)).catch(async (err: Error) => {
          const s = await env.client.workflow.getHandle(gate).query(weekStatusQuery).catch(() => null);
          throw new Error(`${err.message}; the week last said ${JSON.stringify(s && { state: s.state, pauseReason: s.pauseReason, agents: s.agents.map((a) => `${a.agent} ${a.state}${a.trigger ? ` (${a.trigger})` : ''}`) })}`);
        });
      }
      for (const line of b.lines) {
        const { stdout } = await run('bash', ['-c', line], { cwd: projectRoot, env: envVars, maxBuffer: 16 * 1024 * 1024 }).catch((err: { code: number; stdout: string; stderr: string }) => {
          throw new Error(`README line failed (exit ${err.code}): ${line}\n${err.stderr}${err.stdout}`);
        });
        ran.push(line);
        if (line.includes('update execute')) assert.match(stdout, /decideGate|Update result|"decision"|go/i, line);
      }
      const end = /wait-end (\S+)/.exec(b.directive)?.[1];
      if (end) await env.client.workflow.getHandle(end).result();
    }
    assert.ok(ran.some((l) => l.includes('temporal workflow start')) && ran.some((l) => l.includes('main.js start')), 'both ways of starting a phase ran');

    // The phases ended as the README says, and the fleet agrees: level 3 put every agent back.
    for (const id of ['phase.phase1-demo.manual', 'phase.phase1-demo.cli']) {
      const result = (await env.client.workflow.getHandle(id).result()) as PhaseStatus;
      assert.equal(result.outcome, 'aborted', id);
      assert.equal(result.weeks[0]?.outcome, 'passed', `${id}: its first gate was decided go`);
      assert.equal(result.rollback?.level, 3, id);
    }
    const agents = await simulatorClient(env.simulatorAdmin).agents();
    const left = agents.filter((a) => a.changes.baseagent);
    assert.deepEqual(left.map((a) => a.name), [], 'no agent keeps a stage of the change after the level-3 aborts');
  });
});
