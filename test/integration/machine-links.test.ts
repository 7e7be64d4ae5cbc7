import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { createMachineLink, type MachineLink } from '../../lib/netns';

const run = promisify(execFile);

/**
 * The production-shaped stack gives each of fifty machines its own network namespace and link
 * (lib/production-stack.ts). Two links on one /30 block would be one host, and the kernel
 * refuses the second's route: a start that drew blocks at random failed about one time in
 * thirteen with fifty machines ("RTNETLINK answers: File exists"), and two hundred
 * would collide more often than not.
 */
describe('machine links (network namespaces joined by veth pairs)', () => {
  it('two hundred links made at once each get a block of their own, and are gone once destroyed', async () => {
    const links: MachineLink[] = [];
    try {
      for (let i = 0; i < 200; i++) links.push(createMachineLink());
      const blocks = new Set(links.map((l) => l.hostAddress.replace(/\.\d+$/, `.${Number(l.hostAddress.split('.')[3]) - 1}`)));
      assert.equal(blocks.size, 200, 'every link on its own /30 block');
      for (const l of links) {
        assert.equal(Number(l.nsAddress.split('.')[3]), Number(l.hostAddress.split('.')[3]) + 1, `${l.ns}: the namespace end is the host end's neighbour`);
        assert.equal(l.nsAddress.split('.').slice(0, 3).join('.'), l.hostAddress.split('.').slice(0, 3).join('.'));
      }
      // Each namespace reaches its own host end over its own link.
      for (const l of [links[0]!, links[199]!]) {
        const server = createServer((socket) => socket.end('here\n'));
        await new Promise<void>((resolve) => server.listen(0, l.hostAddress, resolve));
        const { port } = server.address() as AddressInfo;
        try {
          const { stdout } = await run('ip', ['netns', 'exec', l.ns, 'bash', '-c', `exec 3<>/dev/tcp/${l.hostAddress}/${port}; head -n 1 <&3`], { timeout: 10_000 });
          assert.equal(stdout.trim(), 'here', `${l.ns} reached its host end`);
        } finally {
          server.close();
        }
      }
    } finally {
      for (const l of links) l.destroy();
    }
    const left = execFileSync('ip', ['netns', 'list']).toString();
    for (const l of links) assert.ok(!left.includes(l.ns), `${l.ns} is gone`);
  });
});
