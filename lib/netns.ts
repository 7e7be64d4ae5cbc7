import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { relay, type Relay } from './relay';

/**
 * A second "machine" on this one: a network namespace joined to the host by a veth pair, with
 * loopback-range addresses only (127.254.N.1 on the host side, 127.254.N.2 inside), so the
 * drill never touches a real network. Cutting the link turns the route to the peer into a
 * blackhole on both sides: packets are dropped silently, as in a real partition, and TCP
 * connections resume when it heals.
 * Needs CAP_NET_ADMIN (root here).
 */
export interface MachineLink {
  ns: string;
  hostAddress: string;
  nsAddress: string;
  /** Prefix a command with this to run it inside the namespace (ip netns exec execs it: same pid). */
  prefix: string[];
  cut(): void;
  heal(): void;
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();

/** The /30 blocks this process's links hold: a block is one host's pair of addresses. */
const blocksInUse = new Set<string>();

/**
 * A link of its own: a new namespace on a /30 block no other link of this process holds. A
 * block drawn at random can still be held by another process (a drill beside a bench): the
 * kernel then refuses its route ("File exists") and another block is drawn.
 */
export function createMachineLink(): MachineLink {
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const block = freeBlock();
    try {
      return linkOnBlock(block);
    } catch (err) {
      lastError = err;
      if (!/File exists/.test(String(err))) break;
    }
  }
  throw lastError;
}

function freeBlock(): string {
  // 127.254.* is never used by the test configurations (127.2-249.*.*): 256 x 64 blocks of 4.
  for (;;) {
    const block = `127.254.${randomInt(0, 256)}.${randomInt(0, 64) * 4}`;
    if (!blocksInUse.has(block)) return block;
  }
}

function linkOnBlock(block: string): MachineLink {
  const id = randomBytes(3).toString('hex');
  const ns = `pg-${id}`;
  const hostIf = `pgh${id}`;
  const nsIf = `pgn${id}`;
  const [a, b, c, d] = block.split('.').map(Number) as [number, number, number, number];
  const hostAddress = `${a}.${b}.${c}.${d + 1}`;
  const nsAddress = `${a}.${b}.${c}.${d + 2}`;
  const inNs = (...args: string[]) => ip('netns', 'exec', ns, 'ip', ...args);
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    inNs('link', 'set', 'lo', 'up');
    inNs('addr', 'add', `${nsAddress}/30`, 'dev', nsIf);
    inNs('link', 'set', nsIf, 'up');
    // 127/8 is "local" on both sides and martian on a wire: route the peer's address over the
    // veth (a more specific entry in the local table) and let 127.x travel on it.
    execFileSync('sh', ['-c', `echo 1 > /proc/sys/net/ipv4/conf/${hostIf}/route_localnet`]);
    ip('netns', 'exec', ns, 'sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${nsIf}/route_localnet`);
    ip('route', 'add', `${nsAddress}/32`, 'dev', hostIf, 'src', hostAddress, 'table', 'local');
    inNs('route', 'add', `${hostAddress}/32`, 'dev', nsIf, 'src', nsAddress, 'table', 'local');
  } catch (err) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // nothing was made
    }
    const detail = err instanceof Error && 'stderr' in err ? String((err as { stderr: Buffer }).stderr).trim() : String(err);
    throw new Error(`cannot build a machine's network namespace (needs CAP_NET_ADMIN, ip netns and veth): ${detail}`);
  }
  blocksInUse.add(block);
  return {
    ns,
    hostAddress,
    nsAddress,
    prefix: ['ip', 'netns', 'exec', ns],
    cut() {
      ip('route', 'replace', 'blackhole', `${nsAddress}/32`, 'table', 'local');
      inNs('route', 'replace', 'blackhole', `${hostAddress}/32`, 'table', 'local');
    },
    heal() {
      ip('route', 'replace', `${nsAddress}/32`, 'dev', hostIf, 'src', hostAddress, 'table', 'local');
      inNs('route', 'replace', `${hostAddress}/32`, 'dev', nsIf, 'src', nsAddress, 'table', 'local');
    },
    destroy() {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
      blocksInUse.delete(block);
    },
  };
}

/**
 * A TCP relay from the link's host address to a service on 127.0.0.1 (the Temporal dev
 * server dials its own services on 127.0.0.1, so it cannot itself listen on the link address).
 */
export async function relayToLoopback(listenHost: string, port: number): Promise<Relay> {
  return relay({ host: listenHost, port }, { host: '127.0.0.1', port });
}
