import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../lib/paths';

/** The machine a figure was measured on, as every benchmark records it. */
export function benchMachine() {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

/** Writes one benchmark's figures to .data/bench/<name>.json (bench/all.ts gathers them); returns the path. */
export function writeBenchJson(name: string, report: unknown): string {
  const out = path.join(projectRoot, '.data', 'bench', `${name}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  return out;
}
