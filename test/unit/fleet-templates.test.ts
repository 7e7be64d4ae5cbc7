import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { catalogueSchema } from '../../config/schema/catalogue';
import { projectRoot } from '../../lib/paths';

/**
 * The catalogues shipped for real fleets (examples/): the supervisor one, which the reference
 * fleet's end-to-end test runs, and the systemd and Docker templates, which cannot run here (no
 * systemd, no Docker engine). Each passes the catalogue schema and names scripts of this
 * repository that exist and parse; the two templates' scripts are run against stand-ins for
 * `systemctl` and `docker` that log what they are asked, to show what a stage, its undo and
 * their retries do to the unit's drop-ins and the container's .env.
 */
const templates = {
  supervisor: 'examples/agent/catalogue.supervisor.json',
  systemd: 'examples/templates/systemd/catalogue.systemd.json',
  docker: 'examples/templates/docker/catalogue.docker.json',
};

describe('catalogue templates for real fleets', () => {
  for (const [name, file] of Object.entries(templates)) {
    it(`${name}: passes the catalogue schema and names an executable script of the repository that parses`, () => {
      const catalogue = catalogueSchema.parse(JSON.parse(readFileSync(path.join(projectRoot, file), 'utf8')));
      const commands = new Set(Object.values(catalogue.actions).map((a) => a.command));
      assert.equal(commands.size, 1, 'one script serves every action');
      const script = path.join(projectRoot, [...commands][0]!.replace(/^\/opt\/phasegate\//, ''));
      accessSync(script, constants.X_OK);
      execFileSync('bash', ['-n', script]);
      assert.ok(Object.values(catalogue.actions).every((a) => a.args.includes('--fleet-root')));
    });
  }

  let dir = '';
  let reportServer: http.Server;
  let report = '';
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'phasegate-templates-'));
    // The agent's own report, as the reference agent serves it (examples/agent/agent.mjs).
    reportServer = http.createServer((_req, res) => res.end(report));
    await new Promise<void>((r) => reportServer.listen(0, '127.0.0.1', r));
  });
  after(() => {
    reportServer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An agent home for the scripts (agent.conf, a delivered change) and a bin folder of stand-ins. */
  function setup(kind: string, stages: Record<string, Record<string, string>>) {
    const root = path.join(dir, kind);
    const home = path.join(root, 'fleet', 'A1');
    const bin = path.join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'agent.conf'), `host=127.0.0.1\nport=${(reportServer.address() as AddressInfo).port}\nhub=http://127.0.0.1:1\n`);
    for (const [stage, files] of Object.entries(stages)) {
      mkdirSync(path.join(home, 'changes', 'c1', `stage-${stage}`), { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(home, 'changes', 'c1', `stage-${stage}`, f), text);
    }
    const log = path.join(root, 'calls.log');
    writeFileSync(log, '');
    return { root, home, bin, log };
  }
  const fake = (bin: string, name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  const run = (script: string, bin: string, args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(path.join(projectRoot, script), args, { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });

  it('systemd: a stage is a drop-in of agent@<name>.service, loaded and restarted; a retry restarts nothing; the undo removes it', async () => {
    const t = setup('systemd', { '1': { 'dropin.conf': '[Service]\nExecStart=\nExecStart=/usr/bin/node /srv/fleet/A1/releases/1.1.0/agent.mjs\n', release: '1.1.0\n' } });
    const units = path.join(t.root, 'units');
    // systemctl: logs its arguments; `show -p DropInPaths` lists the unit's drop-in folder.
    fake(t.bin, 'systemctl', `echo "$*" >>'${t.log}'\nif [[ $1 == show ]]; then ls -d '${units}'/agent@A1.service.d/*.conf 2>/dev/null | tr '\\n' ' '; fi\nexit 0`);
    const ctl = (...args: string[]) => run('examples/templates/systemd/agentctl-systemd', t.bin, ['--fleet-root', path.join(t.root, 'fleet'), '--unit-dir', units, ...args, '--agent', 'A1']);
    const dropin = path.join(units, 'agent@A1.service.d', '50-c1-stage-1.conf');
    assert.equal((await ctl('backup', '--change', 'c1', '--stage', '1', '--key', 'k1')).code, 0);
    const applied = await ctl('apply-stage', '--change', 'c1', '--stage', '1', '--key', 'k2');
    assert.equal(applied.code, 0, applied.out);
    assert.ok(existsSync(dropin));
    assert.deepEqual(readFileSync(t.log, 'utf8').trim().split('\n'), ['daemon-reload', 'restart agent@A1.service', 'is-active --quiet agent@A1.service']);
    assert.equal((await ctl('apply-stage', '--change', 'c1', '--stage', '1', '--key', 'k2')).code, 0);
    assert.equal(readFileSync(t.log, 'utf8').split('\n').filter((l) => l === 'restart agent@A1.service').length, 1, 'the retry found the unit active and restarted nothing');
    report = 'release 1.1.0\npid 7\n';
    assert.equal((await ctl('verify-marker', '--change', 'c1', '--stage', '1')).code, 0, 'the drop-in is loaded and the agent reports the release');
    assert.equal((await ctl('undo-stage', '--change', 'c1', '--stage', '1', '--key', 'k3')).code, 0);
    assert.ok(!existsSync(dropin), 'the undo put the drop-in folder back as it was');
    assert.equal((await ctl('verify-marker', '--change', 'c1', '--stage', '1')).code, 1, 'absent after the undo');
    const journal = readFileSync(path.join(t.home, '.phasegate', 'journal'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1).join(' '));
    assert.deepEqual(journal, ['backup c1 1 k1 done', 'apply-stage c1 1 k2 applied', 'apply-stage c1 1 k2 already-done', 'undo-stage c1 1 k3 undone']);
  });

  it('docker: a release stage is the image tag in the project .env, recreated with compose up --wait; the marker is the running image; the undo puts the .env back', async () => {
    const t = setup('docker', { '1': { 'image-tag': '1.1.0\n' }, '2': { env: 'HUB_TIMEOUT_MS=5000\n' } });
    const project = path.join(t.root, 'compose', 'A1');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, '.env'), 'AGENT_NAME=A1\nAGENT_IMAGE_TAG=1.0.0\n');
    // docker: logs its arguments; inspect answers from the project's .env as a recreated container would.
    fake(
      t.bin,
      'docker',
      `echo "$*" >>'${t.log}'\ncase "$1 $3" in\n  "inspect {{.Config.Image}}") echo "registry.example.internal/reference-agent:$(sed -n 's/^AGENT_IMAGE_TAG=//p' '${project}/.env')" ;;\n  "inspect {{.State.Running}}") echo true ;;\nesac\nexit 0`,
    );
    const ctl = (...args: string[]) => run('examples/templates/docker/agentctl-docker', t.bin, ['--fleet-root', path.join(t.root, 'fleet'), '--compose-dir', path.join(t.root, 'compose'), ...args, '--agent', 'A1']);
    for (const [stage, key] of [['1', 'k1'], ['2', 'k2']] as const) {
      assert.equal((await ctl('backup', '--change', 'c1', '--stage', stage, '--key', `b${key}`)).code, 0);
      const r = await ctl('apply-stage', '--change', 'c1', '--stage', stage, '--key', key);
      assert.equal(r.code, 0, r.out);
    }
    assert.equal(readFileSync(path.join(project, '.env'), 'utf8'), 'AGENT_NAME=A1\nAGENT_IMAGE_TAG=1.1.0\nHUB_TIMEOUT_MS=5000\n');
    assert.equal(readFileSync(t.log, 'utf8').split('\n').filter((l) => l.includes('up -d --force-recreate --wait')).length, 2, 'one recreate per stage');
    assert.equal((await ctl('verify-marker', '--change', 'c1', '--stage', '1')).code, 0, 'the running container has the new image');
    for (const [stage, key] of [['2', 'u2'], ['1', 'u1']] as const) assert.equal((await ctl('undo-stage', '--change', 'c1', '--stage', stage, '--key', key)).code, 0);
    assert.equal(readFileSync(path.join(project, '.env'), 'utf8'), 'AGENT_NAME=A1\nAGENT_IMAGE_TAG=1.0.0\n');
    assert.equal((await ctl('verify-marker', '--change', 'c1', '--stage', '1')).code, 1, 'the old image after the undo');
    assert.equal((await ctl('undo-stage', '--change', 'c1', '--stage', '1', '--key', 'u1')).code, 0, 'an undo retried with its key');
    assert.equal(readFileSync(t.log, 'utf8').split('\n').filter((l) => l.includes('up -d --force-recreate --wait')).length, 4, 'the retried undo recreated nothing');
  });
});
