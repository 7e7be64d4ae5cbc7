import http from 'node:http';
import { parseArgs } from 'node:util';

/**
 * A POST with node:http rather than fetch: this runs as a fresh process for every action and
 * every integration check of every sample, and loading fetch (undici) doubles its start-up.
 */
function post(url: string, body: unknown, timeoutMs: number): Promise<{ ok: boolean; status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * The command a machine's catalogue runs to act on a simulated agent, in place of the real
 * deployment scripts of a fleet. Prints the simulator's answer as JSON on stdout and exits
 * non-zero when the action failed, exactly as a real action script would.
 *
 * Exit codes: 0 done; 1 refused or failed (for verify-marker: the marker is absent); 2 usage;
 * 3 the simulator could not be reached; 4 verify-marker could not tell.
 *
 * fleetctl --admin URL <backup|apply-stage|undo-stage|verify-marker|integration-check>
 *          --agent NAME [--change ID --stage N] [--key IDEMPOTENCY_KEY]
 * fleetctl --admin URL component --name NAME --machine MACHINE --state up|down --key KEY
 */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      admin: { type: 'string' },
      agent: { type: 'string' },
      change: { type: 'string' },
      stage: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
      machine: { type: 'string' },
      state: { type: 'string' },
    },
  });
  const action = positionals[0];
  if (action === 'component') return component(values);
  if (!values.admin || !action || !values.agent) {
    process.stderr.write('usage: fleetctl --admin URL ACTION --agent NAME [--change ID --stage N] [--key KEY]\n');
    return 2;
  }
  const res = await post(
    `${values.admin}/actions`,
    {
      action,
      agent: values.agent,
      ...(values.change ? { change: values.change } : {}),
      ...(values.stage ? { stage: Number(values.stage) } : {}),
      ...(values.key ? { key: values.key } : {}),
    },
    60_000,
  );
  const text = res.text;
  process.stdout.write(`${text}\n`);
  if (!res.ok) {
    let detail = text;
    try {
      const body = JSON.parse(text) as { detail?: string; error?: string };
      detail = body.detail ?? body.error ?? text;
    } catch {
      // keep the raw text
    }
    process.stderr.write(`${action} ${values.agent}: ${detail}\n`);
    // verify-marker: exit 1 means "no marker" (the simulator answers 409); any other failure
    // is "could not tell", which a read-back must not mistake for an absent marker.
    if (action === 'verify-marker') return res.status === 409 ? 1 : 4;
    return 1;
  }
  return 0;
}

async function component(values: { admin?: string; name?: string; machine?: string; state?: string; key?: string }): Promise<number> {
  if (!values.admin || !values.name || !values.machine || !values.key || (values.state !== 'up' && values.state !== 'down')) {
    process.stderr.write('usage: fleetctl --admin URL component --name NAME --machine MACHINE --state up|down --key KEY\n');
    return 2;
  }
  const res = await post(`${values.admin}/components/${encodeURIComponent(values.name)}`, { machine: values.machine, up: values.state === 'up', key: values.key }, 30_000);
  const text = res.text;
  process.stdout.write(`${text}\n`);
  if (!res.ok) process.stderr.write(`component ${values.name} ${values.state}: ${text}\n`);
  return res.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fleetctl: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(3);
  },
);
