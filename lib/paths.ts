import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The project root: the nearest folder above this file whose package.json is phasegate's. */
function findProjectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'phasegate') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find phasegate's package.json above ${__dirname}`);
    dir = parent;
  }
}

export const projectRoot = findProjectRoot();
export const toolsBinDir = path.join(projectRoot, '.tools', 'bin');
export const defaultConfigDir = path.join(projectRoot, 'config', 'defaults');

/** Path of a tool that scripts/setup.sh installed (linked under .tools/bin). */
export function toolPath(name: 'temporal' | 'nats-server' | 'temporal-test-server' | 'compose-check'): string {
  const p = path.join(toolsBinDir, name);
  if (!existsSync(p)) throw new Error(`${name} is not installed at ${p}; run scripts/setup.sh${name === 'temporal-test-server' || name === 'compose-check' ? ' --with-test-server' : ''}`);
  return p;
}
