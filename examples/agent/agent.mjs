#!/usr/bin/env node
// The reference agent: a small, real long-running process of the kind phasegate rolls out to.
// It serves its health endpoint, reports its release, its process id and the configuration
// files it started with, and registers with its hub. Each release of it is a folder
// `releases/<version>/` holding a copy of this file and a release.json (make-release.mjs);
// the supervisor starts `<home>/current/agent.mjs`, so switching the `current` link and
// restarting the program is what moves the agent to another release.
//
// node agent.mjs --name NAME --home DIR --host ADDRESS --port N --hub URL
//
// release.json may name a drill variant (examples/agent/README.md):
//   crash-on-start      exits with status 3 a moment after it starts
//   slow                every health answer waits baseDelayMs * slowFactor
//   fail-integration    registers with its hub as failing
//   gpu-leak            its GPU memory grows by leakMiBPerS in the fake nvidia-smi's data file
import { appendFileSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { name: { type: 'string' }, home: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, hub: { type: 'string' } },
});
for (const k of ['name', 'home', 'host', 'port', 'hub']) {
  if (!values[k]) {
    process.stderr.write(`agent: --${k} is required\n`);
    process.exit(2);
  }
}
const releaseDir = path.dirname(realpathSync(fileURLToPath(import.meta.url)));
const release = JSON.parse(readFileSync(path.join(releaseDir, 'release.json'), 'utf8'));
const configDir = path.join(values.home, 'config');
let configs = [];
try {
  configs = readdirSync(configDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  for (const c of configs) JSON.parse(readFileSync(path.join(configDir, `${c}.json`), 'utf8'));
} catch (err) {
  if (err.code !== 'ENOENT') {
    process.stderr.write(`agent ${values.name}: configuration in ${configDir} is unreadable: ${err.message}\n`);
    process.exit(4);
  }
}
const startedAt = Date.now();
const log = (msg) => process.stdout.write(`${new Date().toISOString()} ${values.name} ${msg}\n`);

if (release.variant === 'crash-on-start') {
  log(`release ${release.version} (crash-on-start drill): exiting`);
  setTimeout(() => process.exit(3), 100);
} else {
  const report = () =>
    [`name ${values.name}`, `release ${release.version}`, `pid ${process.pid}`, ...configs.map((c) => `config ${c}`), `uptime-ms ${Date.now() - startedAt}`].join('\n') + '\n';
  const delayMs = release.variant === 'slow' ? (release.baseDelayMs ?? 20) * (release.slowFactor ?? 1.15) : (release.baseDelayMs ?? 20);
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'ok', name: values.name, release: release.version, pid: process.pid, configs, uptimeMs: Date.now() - startedAt }));
      }, delayMs);
    } else if (req.url === '/report') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(report());
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.listen(Number(values.port), values.host, () => log(`release ${release.version} pid ${process.pid} listening on ${values.host}:${values.port} with config [${configs.join(', ')}]`));

  // Registration with the hub, repeated so that a hub restarted after the agent learns of it.
  const register = () => {
    const body = JSON.stringify({ name: values.name, pid: process.pid, release: release.version, status: release.variant === 'fail-integration' ? 'failing' : 'ok' });
    const req = http.request(`${values.hub}/register`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 2000 });
    req.on('timeout', () => req.destroy());
    req.on('error', () => undefined);
    req.on('response', (res) => res.resume());
    req.end(body);
  };
  register();
  setInterval(register, 2000).unref();

  // The leak drill: this process's GPU memory as the fake nvidia-smi (examples/agent/fake-nvidia-smi) reads it.
  if (release.variant === 'gpu-leak' && release.gpuDataFile) {
    let used = release.startMiB ?? 500;
    setInterval(() => {
      used += release.leakMiBPerS ?? 1000;
      appendFileSync(release.gpuDataFile, `app ${process.pid} ${used}\n`);
    }, 1000).unref();
  }
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
