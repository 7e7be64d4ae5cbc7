#!/usr/bin/env node
// Installs reference agents on one machine: a home per agent (agent.conf, config/, release
// 1.0.0 as `current`) under --fleet-root, and a supervisord.conf that runs the machine's hub
// and every agent, with its own socket, log folder and pid file so that several machines can
// share one host (the test fleet) and nothing needs root.
//
// node install.mjs --fleet-root DIR --machine NAME --host ADDRESS --hub NAME:PORT
//                  --agent NAME:PORT [--agent NAME:PORT ...] [--hub-url URL] [--version 1.0.0]
// then: supervisord -c DIR/supervisord.conf   (and supervisorctl -c DIR/supervisord.conf status)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    'fleet-root': { type: 'string' },
    machine: { type: 'string' },
    host: { type: 'string' },
    hub: { type: 'string' },
    'hub-url': { type: 'string' },
    agent: { type: 'string', multiple: true },
    version: { type: 'string', default: '1.0.0' },
  },
});
const die = (msg) => {
  process.stderr.write(`install: ${msg}\n`);
  process.exit(2);
};
const name = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const pair = (flag, v) => {
  const m = /^([^:]+):(\d{1,5})$/.exec(v);
  if (!m || !name.test(m[1])) die(`${flag} ${v}: give NAME:PORT`);
  return { name: m[1], port: Number(m[2]) };
};
if (!values['fleet-root'] || !values.machine || !values.host || !values.hub || !values.agent?.length) die('--fleet-root, --machine, --host, --hub and at least one --agent are required');
const root = path.resolve(values['fleet-root']);
const hub = pair('--hub', values.hub);
const hubUrl = values['hub-url'] ?? `http://${values.host}:${hub.port}`;
const agents = values.agent.map((a) => pair('--agent', a));
mkdirSync(path.join(root, 'logs'), { recursive: true });

for (const a of agents) {
  const home = path.join(root, a.name);
  mkdirSync(path.join(home, 'config'), { recursive: true });
  writeFileSync(path.join(home, 'agent.conf'), `host=${values.host}\nport=${a.port}\nhub=${hubUrl}\n`);
  if (!existsSync(path.join(home, 'releases', values.version))) execFileSync(process.execPath, [path.join(here, 'make-release.mjs'), '--home', home, '--version', values.version], { stdio: 'ignore' });
  if (!existsSync(path.join(home, 'current'))) symlinkSync(path.join('releases', values.version), path.join(home, 'current'));
}

const program = (p) =>
  [
    `[program:${p.name}]`,
    `command=${p.command}`,
    // The hub starts before the agents (lower priority first), which register with it.
    `priority=${p.priority ?? 500}`,
    'autostart=true',
    // A program that dies on its own is restarted; one that cannot stay up for a second is
    // FATAL at once (a release that crashes on start fails its `supervisorctl restart`).
    'autorestart=unexpected',
    'startsecs=1',
    'startretries=0',
    'stopasgroup=true',
    'killasgroup=true',
    'stopwaitsecs=5',
    `stdout_logfile=${path.join(root, 'logs', `${p.name}.log`)}`,
    'redirect_stderr=true',
    '',
  ].join('\n');
const conf = [
  '[unix_http_server]',
  `file=${path.join(root, 'supervisor.sock')}`,
  'chmod=0700',
  '',
  '[supervisord]',
  `logfile=${path.join(root, 'logs', 'supervisord.log')}`,
  `pidfile=${path.join(root, 'supervisord.pid')}`,
  `childlogdir=${path.join(root, 'logs')}`,
  'nodaemon=true',
  `identifier=phasegate-${values.machine}`,
  '',
  '[rpcinterface:supervisor]',
  'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
  '',
  '[supervisorctl]',
  `serverurl=unix://${path.join(root, 'supervisor.sock')}`,
  '',
  program({ name: hub.name, priority: 100, command: `${process.execPath} ${path.join(here, 'hub.mjs')} --name ${hub.name} --host ${values.host} --port ${hub.port}` }),
  ...agents.map((a) =>
    program({ name: a.name, command: `${process.execPath} ${path.join(root, a.name, 'current', 'agent.mjs')} --name ${a.name} --home ${path.join(root, a.name)} --host ${values.host} --port ${a.port} --hub ${hubUrl}` }),
  ),
].join('\n');
writeFileSync(path.join(root, 'supervisord.conf'), conf);
process.stdout.write(`${path.join(root, 'supervisord.conf')}\n`);
