import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Logger } from '../lib/logger';

/** The workflows and every pure module they import: decisions, schemas and step kinds, renderers. */
const sourceDirs = ['workflows', 'decisions', 'config', 'plan', 'render'].map((d) => path.resolve(__dirname, '..', d));

/** Hash of the compiled workflow sources and what they import. */
function sourceHash(): string {
  const hash = createHash('sha256');
  for (const dir of sourceDirs) {
    for (const f of readdirSync(dir, { recursive: true }) as string[]) {
      const p = path.join(dir, f);
      if (f.endsWith('.js') && statSync(p).isFile()) hash.update(f).update(readFileSync(p));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The workflow bundle, built with webpack once per source change and cached under dist/:
 * bundling takes seconds on a small machine, and a control worker that restarts after a crash
 * should be polling again at once.
 */
export async function workflowBundle(logger: Logger): Promise<{ code: string }> {
  const cacheDir = path.resolve(__dirname, '..', '.workflow-bundle');
  const file = path.join(cacheDir, `workflows-${sourceHash()}.js`);
  if (existsSync(file)) return { code: readFileSync(file, 'utf8') };
  const started = Date.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: undefined });
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, file);
  logger.info({ ms: Date.now() - started, file }, 'workflow bundle built');
  return { code };
}
