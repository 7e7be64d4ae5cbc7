/**
 * The simulated fleet's nvidia-smi in its looping mode (`--loop-ms=N`, a reading every N ms
 * until killed), which activities/machine/gpu-reader.ts keeps running on each machine worker.
 * simulator/bin/nvidia-smi answers a single query itself, with one curl, and runs this file only
 * for the loop: a Node process costs about 225 ms of CPU to start, and at fifty machines the
 * probe's process list, asked every 10 s on each, was a share of the machine that a real fleet
 * does not pay (bench/RESULTS.md, "the simulated nvidia-smi as one curl").
 * Both ask the simulator for the answer it builds from its GPU model (simulator/nvidia-smi-csv.ts).
 */
async function main(): Promise<number> {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  const loopMs = Number(arg('--loop-ms') ?? 0);
  const gpuFields = arg('--query-gpu');
  const appFields = arg('--query-compute-apps');
  if (!gpuFields && !appFields) {
    process.stdout.write('simulated nvidia-smi: only --query-gpu and --query-compute-apps are modelled\n');
    return 0;
  }
  const admin = process.env.PHASEGATE_SIMULATOR_ADMIN;
  const machine = process.env.PHASEGATE_MACHINE;
  if (!admin || !machine) {
    process.stderr.write('NVIDIA-SMI has failed because it could not reach the simulator (PHASEGATE_SIMULATOR_ADMIN, PHASEGATE_MACHINE unset)\n');
    return 9;
  }
  const query = gpuFields ? `query-gpu=${encodeURIComponent(gpuFields)}` : `query-compute-apps=${encodeURIComponent(appFields!)}`;
  const url = `${admin}/machines/${encodeURIComponent(machine)}/nvidia-smi?${query}`;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      process.stdout.write(await res.text());
    } catch (err) {
      process.stderr.write(`NVIDIA-SMI has failed because it couldn't communicate with the simulated driver: ${(err as Error).message}\n`);
      return 9;
    }
    if (!(loopMs > 0)) return 0;
    await new Promise((r) => setTimeout(r, loopMs));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(9);
  },
);
