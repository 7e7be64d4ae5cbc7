import path from 'node:path';
import { defaultConfigDir } from '../lib/paths';

/**
 * The one place that reads process.env: which configuration folder to use. Everything else
 * is in the files of that folder, parsed once and handed down.
 */
export function configDirFrom(flag: string | undefined): string {
  const fromEnv = process.env.PHASEGATE_CONFIG_DIR;
  return path.resolve(flag ?? (fromEnv && fromEnv.length > 0 ? fromEnv : defaultConfigDir));
}
