import type { Catalogue } from '../../config/schema/catalogue';
import { parseGpuRows, type GpuRow } from './probes';
import { spawnLongLived } from './process-group';

/**
 * One long-lived nvidia-smi per machine worker, in its looping mode (the catalogue's memory
 * query with `--loop-ms=<probes.gpu.loopMs>`), serving every window's GPU reading from its
 * latest lines instead of a process per sample. Opt-in per catalogue (probes.gpu.loopMs): the
 * per-sample process stays the default until the looping output has been checked against a
 * real driver here. bench/probe-overhead.ts measures both.
 *
 * Each loop prints one line per GPU; the latest line of each GPU is kept with when it came.
 * Readings older than three loops are stale: the reader says so and the probe falls back to a
 * process of its own. A reader that ends is started again after a pause.
 */
export class GpuMemoryReader {
  private readonly rows = new Map<string, { row: GpuRow; at: number }>();
  private handle: { stop(): void } | null = null;
  private stopped = false;
  private lastProblem: string | null = null;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly spec: NonNullable<Catalogue['probes']['gpu']> & { loopMs: number },
    private readonly cwd: string,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.stopped || this.handle) return;
    const args = [...this.spec.args, `--loop-ms=${this.spec.loopMs}`];
    this.handle = spawnLongLived(this.spec.command, args, {
      cwd: this.cwd,
      onLine: (line) => {
        if (!line.trim()) return;
        const parsed = parseGpuRows(line);
        // The older two-field query names no GPU: one GPU, "GPU 0".
        if (parsed && parsed[0]) this.rows.set(parsed[0].id, { row: parsed[0], at: this.now() });
        else this.lastProblem = `unreadable line from ${this.spec.command}: ${line.slice(0, 120)}`;
      },
      onExit: (why) => {
        this.handle = null;
        this.lastProblem = why;
        if (!this.stopped) this.restartTimer = setTimeout(() => this.start(), Math.max(1000, this.spec.loopMs));
      },
    });
  }

  /** The latest row of every GPU, or why there is none fresh enough. */
  latest(): { rows: GpuRow[] } | { stale: string } {
    const freshWithin = 3 * this.spec.loopMs + 500;
    const now = this.now();
    const rows = [...this.rows.values()].filter((r) => now - r.at <= freshWithin).map((r) => r.row);
    if (rows.length === 0 || rows.length < this.rows.size) {
      return { stale: `the looping ${this.spec.command} has no reading of every GPU from the last ${freshWithin} ms${this.lastProblem ? ` (${this.lastProblem})` : ''}` };
    }
    return { rows };
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.handle?.stop();
    this.handle = null;
  }
}
