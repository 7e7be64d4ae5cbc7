import { after, before } from 'node:test';
import { phaseInput } from '../../plan/compile';
import type { Plan } from '../../config/schema/plan';
import { phaseWorkflow } from '../../workflows/phase';
import { simulatorClient, startTestStack, type TestStack } from './harness';

/**
 * What the dev-server tests of a phase share: a stack of their own for the file (started before
 * its tests, stopped after), the simulator's client, a phase started from a plan, and the
 * messages a workflow published to a JetStream stream.
 */

/** Thresholds and timings that run a migration in a few seconds (one baseline sample, half-second windows). */
export const quickSettings = {
  thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
  timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
};

/** A test stack for this file; read `env` and `sim` inside the tests. */
export function useTestStack(): { readonly env: TestStack; readonly sim: ReturnType<typeof simulatorClient> } {
  let env: TestStack | undefined;
  let sim: ReturnType<typeof simulatorClient> | undefined;
  before(async () => {
    env = await startTestStack();
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => env?.stop());
  return {
    get env() {
      return env!;
    },
    get sim() {
      return sim!;
    },
  };
}

/** Starts a plan as the phase `phase.<plan id>`, with extra input fields (autoApproveGates, gateReminderMs). */
export function startPhase(env: TestStack, plan: Plan, extra: object = {}) {
  return env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.${plan.id}`, args: [{ ...phaseInput(plan, env.config.inventory), ...extra }] });
}

/** Every message of a stream that one workflow published, in order. */
export async function messagesOf(env: TestStack, stream: string, workflowId: string): Promise<Array<Record<string, any>>> {
  const jsm = await env.nats.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: Array<Record<string, any>> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = (await jsm.streams.getMessage(stream, { seq }).catch(() => null))?.json<Record<string, any>>();
    if (m && m.workflowId === workflowId) out.push(m);
  }
  return out;
}
