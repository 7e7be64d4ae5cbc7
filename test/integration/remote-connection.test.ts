import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect, nkeys, nkeyAuthenticator, type NatsConnection } from 'nats';
import { Connection } from '@temporalio/client';
import { loadConfig } from '../../config/load';
import { connectNats, safeToken, streams } from '../../lib/nats';
import { projectRoot, toolPath } from '../../lib/paths';
import { freePort, Stack, waitForPort } from '../../lib/stack';
import type { PhaseStatus } from '../../workflows/phase';
import type { WeekStatus } from '../../workflows/week';
import { searchAttributeRegistrations } from '../../workflows/lib/visibility';
import { makeTestCertificates, type TestCertificates } from '../support/certs';
import { until } from '../support/drills';
import { makeTestConfig } from '../support/harness';
import { relay, type Relay } from '../../lib/relay';

const run = promisify(execFile);
const cli = path.join(projectRoot, 'dist/cli/main.js');

/**
 * The README's "running on several machines" set-up, for real: Temporal reached only through
 * mutual TLS (a TLS-terminating front end that demands a client certificate from our CA, as a
 * load balancer or Temporal Cloud would; the dev server speaks plain gRPC), NATS with TLS,
 * client certificates and an nkey user. Workers and the CLI use the remote configuration.
 */
describe('connecting to a remote Temporal with mTLS and to NATS with TLS and an nkey', () => {
  let stack: Stack;
  let nats: ChildProcess;
  let front: Relay;
  let certs: TestCertificates;
  let seedFile: string;
  let natsUrl: string;
  let remoteDir: string;
  let strangerDir: string;
  let dataDir: string;
  const phasegate = (config: string, ...args: string[]) => run(process.execPath, [cli, ...args, '--config', config]);

  before(async () => {
    const user = nkeys.createUser();
    let natsPort = 0;
    const test = await makeTestConfig({
      edit: ({ deployment }) => {
        natsPort = deployment.nats.port;
        // Filled in below, once the files exist; the paths are relative to the configuration folder.
        deployment.nats = { mode: 'external', servers: [`tls://127.0.0.1:${natsPort}`], nkeySeedPath: 'secrets/user.nk', tls: { caPath: 'secrets/ca.pem', clientCertPath: 'secrets/client.pem', clientKeyPath: 'secrets/client.key' } };
      },
    });
    dataDir = test.dataDir;
    certs = makeTestCertificates(path.join(dataDir, 'pki'));
    const secrets = path.join(test.configDir, 'secrets');
    mkdirSync(secrets);
    seedFile = path.join(secrets, 'user.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    cpSync(certs.caCert, path.join(secrets, 'ca.pem'));
    cpSync(certs.clientCert, path.join(secrets, 'client.pem'));
    cpSync(certs.clientKey, path.join(secrets, 'client.key'));
    natsUrl = `tls://127.0.0.1:${natsPort}`;

    // nats-server demanding TLS with a client certificate from our CA, and the nkey user.
    const natsConf = path.join(dataDir, 'nats.conf');
    writeFileSync(
      natsConf,
      [
        `listen: "127.0.0.1:${natsPort}"`,
        `jetstream { store_dir: ${JSON.stringify(path.join(dataDir, 'nats'))} }`,
        `tls { cert_file: ${JSON.stringify(certs.serverCert)}, key_file: ${JSON.stringify(certs.serverKey)}, ca_file: ${JSON.stringify(certs.caCert)}, verify: true, timeout: 5 }`,
        `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }`,
      ].join('\n'),
    );
    nats = spawn(toolPath('nats-server'), ['-c', natsConf], { stdio: 'ignore' });
    await waitForPort('127.0.0.1', natsPort, 30_000);

    // The dev server (plain gRPC, loopback) behind a front end that terminates mutual TLS;
    // started without phasegate's search attributes, as a fresh production server would be:
    // the control worker registers them.
    stack = new Stack({ config: loadConfig(test.configDir), dataDir, startWorkers: false, searchAttributes: {} });
    await stack.start();
    const frontPort = await freePort();
    front = await relay({ host: '127.0.0.1', port: frontPort }, { host: '127.0.0.1', port: test.ports.temporal }, {
      cert: readFileSync(certs.serverCert),
      key: readFileSync(certs.serverKey),
      ca: readFileSync(certs.caCert),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    });

    // The configuration a worker on another machine would have: Temporal only through mTLS.
    const remoteTemporal = (cert: string, key: string) => ({
      mode: 'external',
      address: `127.0.0.1:${frontPort}`,
      namespace: 'default',
      tls: { clientCertPath: cert, clientKeyPath: key, serverRootCaPath: 'secrets/ca.pem', serverNameOverride: 'localhost' },
    });
    const derive = (name: string, temporal: object) => {
      const dir = path.join(dataDir, name);
      cpSync(test.configDir, dir, { recursive: true });
      const deployment = JSON.parse(readFileSync(path.join(dir, 'deployment.json'), 'utf8'));
      deployment.temporal = temporal;
      writeFileSync(path.join(dir, 'deployment.json'), JSON.stringify(deployment, null, 2));
      return dir;
    };
    remoteDir = derive('config-remote', remoteTemporal('secrets/client.pem', 'secrets/client.key'));
    strangerDir = derive('config-stranger', remoteTemporal(certs.strangerCert, certs.strangerKey));
    await stack.startControlWorker({ configDir: remoteDir });
    for (const m of stack.config.inventory.machines) await stack.startMachineWorker(m.name, { configDir: remoteDir });
  });

  after(async () => {
    await stack?.stop();
    await front?.close();
    nats?.kill('SIGTERM');
  });

  it('NATS refuses a client without the nkey, and one without a client certificate', async () => {
    const tlsOnly = { ca: readFileSync(certs.caCert, 'utf8'), cert: readFileSync(certs.clientCert, 'utf8'), key: readFileSync(certs.clientKey, 'utf8') };
    await assert.rejects(connect({ servers: natsUrl, tls: tlsOnly, reconnect: false, maxReconnectAttempts: 0 }), /Authorization Violation/i);
    const seed = new TextEncoder().encode(readFileSync(seedFile, 'utf8').trim());
    await assert.rejects(connect({ servers: natsUrl, tls: { ca: tlsOnly.ca }, authenticator: nkeyAuthenticator(seed), reconnect: false, maxReconnectAttempts: 0 }));
  });

  it('Temporal through the front end refuses a certificate from another CA, with a message that says what to check', async () => {
    const err = await phasegate(strangerDir, 'status', 'phase.anything').then(
      () => null,
      (e: Error & { code: number; stderr: string }) => e,
    );
    assert.equal(err?.code, 1);
    assert.match(err!.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+: .*or does --config point at the right deployment\?/);
  });

  it('workers and the CLI on the remote configuration run a phase to the end, and its events reach JetStream', async () => {
    const planFile = path.join(dataDir, 'plan.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        version: 1,
        id: 'remote',
        title: 'over mTLS and nkeys',
        thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
        timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
        decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
        weeks: [{ id: 'week1', title: 'one agent per machine', steps: [{ id: 'm', migrate: { change: 'remote-change', select: { agents: ['ChitchatAgent', 'WebSearchAgent'] }, pilots: 0, batchSize: 2 } }], gate: { criteria: [{ kind: 'all-migrated' }] } }],
      }),
    );
    const plain = await Connection.connect({ address: `127.0.0.1:${(stack.config.deployment.temporal as { port: number }).port}` });
    try {
      const { customAttributes } = await plain.operatorService.listSearchAttributes({ namespace: 'default' });
      assert.deepEqual(Object.keys(customAttributes ?? {}).filter((k) => k.startsWith('Phasegate')).sort(), Object.keys(searchAttributeRegistrations).sort(), 'registered by the control worker');
    } finally {
      await plain.close();
    }
    const id = 'phase.remote.test';
    await phasegate(remoteDir, 'start', planFile, '--id', id);
    const status = async () => JSON.parse((await phasegate(remoteDir, 'status', id, '--json')).stdout) as { phase: PhaseStatus; week: WeekStatus | null; execution: string };
    await until('the gate to open', 120_000, async () => ((await status()).week?.state === 'gate-open' ? true : undefined));
    await phasegate(remoteDir, 'gate', 'go', id, '--by', 'remote-operator');
    await until('the phase to end', 60_000, async () => ((await status()).execution === 'completed' ? true : undefined));
    const done = await status();
    assert.equal(done.phase.outcome, 'completed');
    assert.deepEqual(done.week?.agents.map((a) => [a.agent, a.state]), [['ChitchatAgent', 'migrated'], ['WebSearchAgent', 'migrated']]);

    // The control worker published the phase's events over TLS with the nkey.
    const nc: NatsConnection = await connectNats(loadConfig(remoteDir).deployment, 'remote-connection-test');
    try {
      // The phase's own events and its week's (whose workflow id extends the phase's).
      const info = await (await nc.jetstreamManager()).streams.info(streams.events.name, { subjects_filter: 'phasegate.events.>' });
      const kinds = Object.keys(info.state.subjects ?? {}).filter((s) => s.startsWith(`phasegate.events.${safeToken(id)}`)).map((s) => s.split('.').at(-1));
      for (const k of ['phase_started', 'gate_opened', 'gate_decided', 'phase_completed']) assert.ok(kinds.includes(k), `event ${k} in JetStream (${kinds.join(', ')})`);
    } finally {
      await nc.close();
    }
  });
});
