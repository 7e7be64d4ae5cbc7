import { patched, upsertMemo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * "Build B" of the worker-upgrade test (test/integration/worker-upgrade.test.ts): phasegate's
 * workflows with one change to their commands. A gate decision handled by this build records
 * which build handled it (a memo upsert, a command the old build never makes), behind
 * patched(), as every such change must be. A history with it does not replay on the old build.
 */
export const upgradeDrillPatch = 'upgrade-drill-build-b';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async handleUpdate(input, next) {
        if (input.name === 'decideGate' && patched(upgradeDrillPatch)) upsertMemo({ gateDecidedOnBuild: 'build-b' });
        return next(input);
      },
    },
  ],
});
