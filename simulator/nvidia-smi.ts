/**
 * The simulated fleet's nvidia-smi: answers the two queries phasegate's GPU probe makes
 * (`--query-gpu=...` and `--query-compute-apps=...`, CSV without header or units) from the
 * simulator's model of the machine's GPU (FleetState.gpu in simulator/fleet-state.ts), so that
 * the real probe code runs against a simulated machine as it would against a real one.
 * lib/stack.ts puts simulator/bin (a wrapper that runs this file) first on each simulated
 * machine worker's PATH, with the simulator's address and the machine in its environment.
 * A field it does not model prints [N/A], as the real one does for unsupported fields.
 */
async function main(): Promise<number> {
  // --loop-ms=N: print the query every N ms until killed, as nvidia-smi's looping mode does.
  const loopMs = Number(process.argv.find((a) => a.startsWith('--loop-ms='))?.slice('--loop-ms='.length) ?? 0);
  if (loopMs > 0) {
    for (;;) {
      const code = await once();
      if (code !== 0) return code;
      await new Promise((r) => setTimeout(r, loopMs));
    }
  }
  return once();
}

async function once(): Promise<number> {
  const admin = process.env.PHASEGATE_SIMULATOR_ADMIN;
  const machine = process.env.PHASEGATE_MACHINE;
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  const gpuFields = arg('--query-gpu');
  const appFields = arg('--query-compute-apps');
  if (!gpuFields && !appFields) {
    process.stdout.write('simulated nvidia-smi: only --query-gpu and --query-compute-apps are modelled\n');
    return 0;
  }
  if (!admin || !machine) {
    process.stderr.write('NVIDIA-SMI has failed because it could not reach the simulator (PHASEGATE_SIMULATOR_ADMIN, PHASEGATE_MACHINE unset)\n');
    return 9;
  }
  let state: { gpus: Array<{ uuid: string; usedMiB: number; totalMiB: number }>; apps: Array<{ pid: number; usedMiB: number; gpuUuid: string }> };
  try {
    const res = await fetch(`${admin}/machines/${encodeURIComponent(machine)}/gpu`, { signal: AbortSignal.timeout(1500) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    state = (await res.json()) as typeof state;
  } catch (err) {
    process.stderr.write(`NVIDIA-SMI has failed because it couldn't communicate with the simulated driver: ${(err as Error).message}\n`);
    return 9;
  }
  const rows = gpuFields
    ? state.gpus.map((g) => ({ uuid: g.uuid, 'memory.used': g.usedMiB, 'memory.total': g.totalMiB }) as Record<string, unknown>)
    : state.apps.map((p) => ({ pid: p.pid, used_memory: p.usedMiB, used_gpu_memory: p.usedMiB, gpu_uuid: p.gpuUuid }) as Record<string, unknown>);
  const fields = (gpuFields ?? appFields)!.split(',').map((f) => f.trim());
  for (const row of rows) process.stdout.write(`${fields.map((f) => (row[f] === undefined ? '[N/A]' : String(row[f]))).join(', ')}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(9);
  },
);
