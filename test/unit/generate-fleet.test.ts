import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { loadConfig, loadPlan } from '../../config/load';
import { generateFleet, simulatorCurlActions, writeFleet } from '../../simulator/generate-fleet';

const run = promisify(execFile);

describe('generated fleets (simulator/generate-fleet.ts)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-generated-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('10,000 agents on 100 machines load as a valid configuration and plan: no port met twice on a machine, batches within the plan limit', () => {
    writeFleet(dir, generateFleet({ agents: 10_000, machines: 100, actions: 'curl' }));
    const config = loadConfig(dir);
    assert.equal(config.inventory.agents.length, 10_000);
    const plan = loadPlan(path.join(dir, 'plans', 'scale.json'), config);
    const migrate = plan.weeks[0]!.steps[0]!;
    assert.equal(migrate.migrate?.batchSize, 1000, 'a quarter of the fleet, capped at the 1,000 a plan allows');
  });

  it('a generated fleet shares no address with the stack\'s own services, so a port drawn for them at random cannot clash with an agent (a 5,000-agent bench start was refused so)', () => {
    const clash = mkdtempSync(path.join(tmpdir(), 'phasegate-generated-ports-'));
    try {
      const fleet = generateFleet({ agents: 5000, machines: 50, actions: 'curl' });
      writeFleet(clash, fleet);
      assert.ok(fleet.inventory.machines.every((m) => m.host !== '127.0.0.1'), 'no generated machine on 127.0.0.1');
      // The production stack puts its listeners on 127.0.0.1 at ports from lib/stack.ts freePort;
      // here they land on the agents' health ports (20000 and up) on purpose.
      const file = path.join(clash, 'deployment.json');
      const deployment = JSON.parse(readFileSync(file, 'utf8'));
      deployment.metrics = { host: '127.0.0.1', ports: Object.fromEntries([['control', 20_000], ...Object.keys(fleet.catalogues).map((m, i) => [m, 20_001 + i])]) };
      writeFileSync(file, JSON.stringify(deployment));
      assert.equal(loadConfig(clash).inventory.agents.length, 5000);
    } finally {
      rmSync(clash, { recursive: true, force: true });
    }
  });

  it('gpuLoopMs gives every catalogue the looping GPU reader, and the catalogues still load', () => {
    const looping = mkdtempSync(path.join(tmpdir(), 'phasegate-generated-loop-'));
    try {
      writeFleet(looping, generateFleet({ agents: 6, machines: 3, actions: 'curl', gpuLoopMs: 1000 }));
      const config = loadConfig(looping);
      assert.deepEqual(
        Object.values(config.catalogues).map((c) => c.probes.gpu?.loopMs),
        [1000, 1000, 1000],
      );
      assert.equal(Object.values(loadConfig(dir).catalogues)[0]?.probes.gpu?.loopMs, undefined, 'without it, two processes per sample as the shipped catalogues');
    } finally {
      rmSync(looping, { recursive: true, force: true });
    }
  });

  it("agentHeartbeatMs sets the agents' heartbeat interval and keeps the others of the shipped inventory", () => {
    const slow = mkdtempSync(path.join(tmpdir(), 'phasegate-generated-beats-'));
    try {
      writeFleet(slow, generateFleet({ agents: 6, machines: 3, actions: 'curl', agentHeartbeatMs: 30_000 }));
      const shipped = loadConfig(dir).inventory.heartbeats;
      const beats = loadConfig(slow).inventory.heartbeats;
      assert.equal(beats.agentIntervalMs, 30_000);
      assert.deepEqual({ ...beats, agentIntervalMs: shipped.agentIntervalMs }, shipped, 'hubs, machines and the link silence as shipped');
      assert.equal(shipped.agentIntervalMs, 1000, 'without it, the shipped 1 s');
    } finally {
      rmSync(slow, { recursive: true, force: true });
    }
  });

  describe("the curl catalogue's marker check keeps fleetctl's exit codes", () => {
    let server: Server;
    let admin = '';
    before(async () => {
      // Answers as the simulator does: 200 present, 409 absent; stage 3 stands for a simulator in trouble.
      server = createServer((req, res) => {
        const stage = new URL(req.url ?? '/', 'http://x').searchParams.get('stage');
        res.writeHead(stage === '1' ? 200 : stage === '2' ? 409 : 500).end('{}');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    for (const [stage, code] of [
      ['1', 0],
      ['2', 1],
      ['3', 4],
    ] as const) {
      it(`stage ${stage}: exit ${code}`, async () => {
        const marker = simulatorCurlActions()['verify-marker'];
        const fill = (a: string) => a.replace('{simulatorAdmin}', admin).replace('{agent}', 'Agent00001').replace('{change}', 'c').replace('{stage}', stage);
        const exit = await run(marker.command, marker.args.map(fill)).then(
          () => 0,
          (err: { code?: number }) => err.code ?? -1,
        );
        assert.equal(exit, code);
      });
    }
  });
});
