import { readdirSync, readFileSync } from 'node:fs';

/** Live (not zombie) processes whose command line contains `marker`, by pid (Linux /proc). */
export function liveProcessesMatching(marker: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').includes(marker) && !/\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
}
