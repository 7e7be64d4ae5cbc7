import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { thresholdsSchema, timingsSchema } from '../../config/schema/plan';
import {
  agentMigrationStatusQuery,
  agentMigrationWorkflow,
  type AgentMigrationStatus,
} from '../../workflows/agent-migration';
import { migrationAgent } from '../../plan/steps/migrate';
import { migrationWorkflowId } from '../../workflows/lib/ids';
import { migrationInput, type PlanSettings } from '../../workflows/lib/migration-input';
import type { TestStack } from './harness';
import type { Strategy } from '../../decisions/risk';

/** Short windows so a drill takes seconds; thresholds stay at docs/domain.md's defaults. */
export function fastPlan(over: { thresholds?: object; timings?: object } = {}): PlanSettings {
  return {
    thresholds: thresholdsSchema.parse({ sampleIntervalMs: 250, ...over.thresholds }),
    // A failed command is tried twice, 300 ms apart: a failing undo reaches its person at once.
    timings: timingsSchema.parse({ baselineSamples: 2, rapidVerificationMs: 1500, stageVerificationMs: 2000, observationMs: 0, observationWindowMs: 2000, actionAttempts: 2, actionRetryMaxIntervalMs: 300, ...over.timings }),
  };
}

let counter = 0;

export async function startMigration(
  env: TestStack,
  agentName: string,
  plan = fastPlan(),
  change?: string,
  strategyOverride?: { strategy: Strategy; reason: string },
): Promise<WorkflowHandle<typeof agentMigrationWorkflow>> {
  const agent = env.config.inventory.agents.find((a) => a.name === agentName);
  if (!agent) throw new Error(`no agent ${agentName}`);
  counter += 1;
  const input = migrationInput(migrationAgent(agent), plan, change ?? `change${counter}`, { phase: 'test', week: `w${counter}`, ...(strategyOverride ? { strategyOverride } : {}) });
  return env.client.workflow.start(agentMigrationWorkflow, {
    taskQueue: env.config.deployment.controlTaskQueue,
    workflowId: migrationWorkflowId(`test.w${counter}`, agentName, input.change),
    args: [input],
  });
}

/** Waits until the migration's status (read through its query) satisfies a condition. */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (s: AgentMigrationStatus) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<AgentMigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: AgentMigrationStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(agentMigrationStatusQuery);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify({ state: last?.state, stage: last?.currentStage, applied: last?.stagesApplied })}`);
}

/** A stand-in for nvidia-smi that prints whatever the test writes to its reading file. */
export function fakeNvidiaSmi(dir: string): { binDir: string; set(usedMiB: number, totalMiB: number): void; apps(list: Array<{ pid: number; usedMiB: number }>): void; fail(): void } {
  const binDir = path.join(dir, 'fake-gpu-bin');
  mkdirSync(binDir, { recursive: true });
  const reading = path.join(binDir, 'reading.csv');
  const apps = path.join(binDir, 'apps.csv');
  const script = path.join(binDir, 'nvidia-smi');
  // One GPU, GPU-fake-0. An empty reading file means the driver is failing: exit non-zero like a
  // broken nvidia-smi. The process query answers from apps.csv.
  writeFileSync(
    script,
    `#!/bin/sh\n# test double: answers the fixed memory and process queries from files\n[ -s '${reading}' ] || { echo 'NVIDIA-SMI has failed' >&2; exit 9; }\ncase "$1" in --query-compute-apps=*) cat '${apps}' ;; *) cat '${reading}' ;; esac\n`,
  );
  chmodSync(script, 0o755);
  const set = (used: number, total: number) => writeFileSync(reading, `GPU-fake-0, ${used}, ${total}\n`);
  set(40960, 81920);
  writeFileSync(apps, '');
  return { binDir, set, apps: (list) => writeFileSync(apps, list.map((a) => `${a.pid}, ${a.usedMiB}, GPU-fake-0\n`).join('')), fail: () => writeFileSync(reading, '') };
}
