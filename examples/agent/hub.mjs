#!/usr/bin/env node
// The reference hub: agents register with it (POST /register) every two seconds; the
// integration check (agentctl) asks it what it knows of an agent (GET /agents/<name>), as a
// real hub's registry would be asked whether the agent really joined.
//
// node hub.mjs --name NAME --host ADDRESS --port N
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { name: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' } } });
if (!values.name || !values.host || !values.port) {
  process.stderr.write('usage: hub.mjs --name NAME --host ADDRESS --port N\n');
  process.exit(2);
}
const agents = new Map();
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/register') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        const r = JSON.parse(body);
        if (typeof r.name !== 'string' || !Number.isInteger(r.pid)) throw new Error('name and pid are required');
        agents.set(r.name, { pid: r.pid, release: String(r.release), status: r.status === 'ok' ? 'ok' : 'failing', at: Date.now() });
        res.writeHead(204);
        res.end();
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`${err.message}\n`);
      }
    });
    return;
  }
  const m = /^\/agents\/([A-Za-z0-9_.-]+)$/.exec(req.url ?? '');
  if (req.method === 'GET' && m) {
    const a = agents.get(m[1]);
    if (!a) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`${m[1]} has not registered with ${values.name}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`name ${m[1]}\npid ${a.pid}\nrelease ${a.release}\nstatus ${a.status}\nseen-ms-ago ${Date.now() - a.at}\n`);
    return;
  }
  res.writeHead(404);
  res.end();
});
server.listen(Number(values.port), values.host, () => process.stdout.write(`hub ${values.name} listening on ${values.host}:${values.port}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
