import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { identifier } from '../config/schema/common';
import { agentSchema } from '../config/schema/inventory';
import { OperatorError } from './temporal-client';

/**
 * Starting inventories for `phasegate inventory from-supervisor|from-urls`: what can be read
 * off a machine (agent names, health ports and paths, releases) filled in; what only a person
 * can judge (risk ratings, category, hubs) left as "FILL-IN: ..." values, which the inventory
 * schema refuses field by field until each is rated (config/schema/inventory.ts).
 */

const fillIn = (what: string) => `FILL-IN: ${what}`;
const rating = fillIn('low|medium|high');

export interface StartingAgent {
  name: string;
  machine: string;
  category: string;
  healthPort: number;
  healthPath: string;
  hub: string;
  failoverHub: string;
  version: string;
  risk: Record<'fileSize' | 'gpu' | 'threading' | 'databases' | 'role', string>;
}

export interface StartingInventory {
  version: 1;
  machines: Array<{ name: string; host: string }>;
  hubs: never[];
  agents: StartingAgent[];
}

function agent(name: string, machine: string, healthPort: number, healthPath: string, version: string | undefined): StartingAgent {
  return {
    name,
    machine,
    category: fillIn('model-loading|gpu-compute|gpu-monitoring|core|memory|communication|learning|utility|integration'),
    healthPort,
    healthPath,
    hub: fillIn('hub name (and add the hub to hubs)'),
    failoverHub: fillIn('hub name'),
    version: version && agentSchema.shape.version.safeParse(version).success ? version : fillIn('the running version'),
    risk: { fileSize: rating, gpu: rating, threading: rating, databases: rating, role: rating },
  };
}

/** Programs of a supervisord.conf whose command names a port (`--port N`, `--port=N` or PORT= in environment). */
export function inventoryFromSupervisor(confFile: string, machine: string, host: string): StartingInventory {
  let text: string;
  try {
    text = readFileSync(confFile, 'utf8');
  } catch (err) {
    throw new OperatorError(`cannot read ${confFile}: ${(err as Error).message}`);
  }
  const agents: StartingAgent[] = [];
  const skipped: string[] = [];
  for (const section of text.split(/^(?=\[)/m)) {
    const header = /^\[program:([^\]]+)\]/.exec(section);
    if (!header) continue;
    const name = header[1]!.trim();
    const value = (key: string) => new RegExp(`^${key}\\s*=\\s*(.*)$`, 'm').exec(section)?.[1]?.trim() ?? '';
    const command = value('command');
    const port = /--port[= ](\d{1,5})\b/.exec(command)?.[1] ?? /\bPORT="?(\d{1,5})/.exec(value('environment'))?.[1];
    const healthPath = /--health-path[= ](\/\S*)/.exec(command)?.[1] ?? '/health';
    if (!port || !identifier.safeParse(name).success) {
      skipped.push(name);
      continue;
    }
    // A program run from a release link (…/current/…): the release it points at is its version.
    const current = /(\S*\/current)\//.exec(command)?.[1];
    let version: string | undefined;
    try {
      if (current) version = path.basename(readlinkSync(current));
    } catch {
      // not on this machine, or not a link: left to fill in
    }
    agents.push(agent(name, machine, Number(port), healthPath, version));
  }
  if (!agents.length) throw new OperatorError(`${confFile}: no [program:...] section names a port (--port N or PORT= in environment)${skipped.length ? `; skipped: ${skipped.join(', ')}` : ''}`);
  return { version: 1, machines: [{ name: machine, host }], hubs: [], agents };
}

/** Agents from their health URLs, each asked for its name and release (JSON `name`, `release` or `version`). */
export async function inventoryFromUrls(urls: string[], machine: string): Promise<StartingInventory> {
  const hosts = new Set<string>();
  const agents = await Promise.all(
    urls.map(async (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new OperatorError(`${raw}: not a URL (give http://HOST:PORT/PATH)`);
      }
      if (url.protocol !== 'http:' || !url.port) throw new OperatorError(`${raw}: give an http URL with its port`);
      hosts.add(url.hostname);
      let body: { name?: unknown; release?: unknown; version?: unknown } = {};
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
        body = (await res.json()) as typeof body;
      } catch (err) {
        throw new OperatorError(`${raw} did not answer with JSON: ${(err as Error).message}`);
      }
      const name = identifier.safeParse(body.name).success ? (body.name as string) : `agent-${url.port}`;
      const version = typeof body.release === 'string' ? body.release : typeof body.version === 'string' ? body.version : undefined;
      return agent(name, machine, Number(url.port), url.pathname || '/health', version);
    }),
  );
  if (hosts.size !== 1) throw new OperatorError(`the URLs name ${hosts.size} hosts (${[...hosts].join(', ')}): one machine's agents at a time`);
  return { version: 1, machines: [{ name: machine, host: [...hosts][0]! }], hubs: [], agents };
}
