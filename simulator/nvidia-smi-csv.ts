import type { FleetState } from './fleet-state';

/**
 * nvidia-smi's answer to one of the two queries phasegate's GPU probe makes
 * (`--query-gpu=<fields>` or `--query-compute-apps=<fields>`, `--format=csv,noheader,nounits`),
 * built from the simulator's GPU model (FleetState.gpu): one line per GPU or per process, the
 * fields in the order asked, `[N/A]` for a field not modelled (as the real one prints for an
 * unsupported field). The simulator serves it (simulator/server.ts, GET
 * /machines/<m>/nvidia-smi), so the simulated nvidia-smi (simulator/bin/nvidia-smi) is one curl.
 */
export function nvidiaSmiCsv(gpu: ReturnType<FleetState['gpu']>, query: { gpuFields?: string; appFields?: string }): string {
  const rows = query.gpuFields !== undefined
    ? gpu.gpus.map((g) => ({ uuid: g.uuid, 'memory.used': g.usedMiB, 'memory.total': g.totalMiB }) as Record<string, unknown>)
    : gpu.apps.map((p) => ({ pid: p.pid, used_memory: p.usedMiB, used_gpu_memory: p.usedMiB, gpu_uuid: p.gpuUuid }) as Record<string, unknown>);
  const fields = (query.gpuFields ?? query.appFields ?? '').split(',').map((f) => f.trim());
  return rows.map((row) => `${fields.map((f) => (row[f] === undefined ? '[N/A]' : String(row[f]))).join(', ')}\n`).join('');
}
