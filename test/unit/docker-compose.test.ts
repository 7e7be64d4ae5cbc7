import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../config/load';
import { projectRoot, toolPath } from '../../lib/paths';
import { controlWorkerEnvironment } from '../../lib/stack';

/** A service as compose-go resolves it (`docker compose config --format json`). */
interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  environment?: Record<string, string>;
  profiles?: string[];
  ports?: Array<{ target: number; published: string }>;
  volumes?: Array<{ type: 'bind' | 'volume'; source: string; target: string; read_only?: boolean }>;
  network_mode?: string;
  extra_hosts?: string[];
}
interface Project {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const secrets = ['POSTGRES_PASSWORD=dummy-postgres', 'GRAFANA_ADMIN_PASSWORD=dummy-grafana', 'PHASEGATE_CONTROL_HOST=10.0.0.5'];

/** compose-go's verdict on a file: the resolved project, or its error message. */
function composeCheck(file: string, env: string[] = secrets): { project?: Project; error?: string } {
  try {
    return { project: JSON.parse(execFileSync(toolPath('compose-check'), [file, ...env], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })) as Project };
  } catch (err) {
    return { error: String((err as { stderr?: string }).stderr ?? err) };
  }
}

const mainFile = path.join(projectRoot, 'docker-compose.yml');
const machineFile = path.join(projectRoot, 'docker-compose.machine.yml');
const production = loadConfig(path.join(projectRoot, 'config', 'production'));
const onMachines = loadConfig(path.join(projectRoot, 'config', 'production', 'machine'));

// No Docker engine here: the files are loaded by compose-go (schema, interpolation, references)
// and checked against the workers' configuration instead of being run.
describe('docker-compose.yml and docker-compose.machine.yml (production)', () => {
  const main = composeCheck(mainFile);
  const machine = composeCheck(machineFile);
  const all = (): Array<[string, Service]> => [...Object.entries(main.project!.services), ...Object.entries(machine.project!.services)];

  it('pass compose-go: the Compose specification schema, interpolation and references', () => {
    assert.equal(main.error, undefined);
    assert.equal(machine.error, undefined);
    assert.deepEqual(Object.keys(main.project!.services).sort(), ['control-worker', 'grafana', 'nats-1', 'nats-2', 'nats-3', 'postgresql', 'prometheus', 'temporal', 'temporal-ui']);
    assert.deepEqual(Object.keys(machine.project!.services).sort(), ['worker-mainpc', 'worker-pc2']);
  });

  it('and compose-go refuses broken copies, so the check can fail', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phasegate-compose-'));
    const text = readFileSync(mainFile, 'utf8');
    const cases: Array<[string, string, RegExp]> = [
      ['a misspelt key', text.replace('healthcheck: &nats-health', 'healthchek: &nats-health'), /healthchek/],
      ['a dependency on a service that is not there', text.replace('      nats-3:\n        condition: service_healthy', '      nats-4:\n        condition: service_healthy'), /nats-4/],
      ['an undeclared volume', text.replace('- nats-3-data:/data', '- nats-9-data:/data'), /nats-9-data/],
    ];
    for (const [what, broken, message] of cases) {
      assert.notEqual(broken, text, `${what}: the edit applies`);
      const file = path.join(dir, 'docker-compose.yml');
      writeFileSync(file, broken);
      const verdict = composeCheck(file);
      assert.ok(verdict.error, `${what} is refused`);
      assert.match(verdict.error, message, what);
    }
  });

  it('holds no secret: without the passwords in the environment, compose refuses to start', () => {
    const verdict = composeCheck(mainFile, []);
    assert.match(verdict.error ?? '', /required variable (POSTGRES_PASSWORD|GRAFANA_ADMIN_PASSWORD) is missing a value/);
    assert.match(composeCheck(machineFile, []).error ?? '', /PHASEGATE_CONTROL_HOST is missing a value: set PHASEGATE_CONTROL_HOST/);
    for (const file of [mainFile, machineFile]) {
      const raw = parse(readFileSync(file, 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
      for (const [name, s] of Object.entries(raw.services)) {
        for (const [key, value] of Object.entries(s.environment ?? {})) {
          if (/PASSWORD|PWD|SECRET|TOKEN|KEY/i.test(key)) assert.match(String(value), /^\$\{[A-Z_]+:\?/, `${name}.${key} comes from the environment`);
        }
      }
    }
    assert.equal(main.project!.services.postgresql!.environment!.POSTGRES_PASSWORD, 'dummy-postgres', 'the value is the one given');
  });

  it('every service has a health check, a restart policy and a pinned image', () => {
    for (const [name, s] of all()) {
      assert.ok(s.healthcheck?.test?.length, `${name} has a health check`);
      assert.equal(s.restart, 'unless-stopped', `${name} restarts`);
      if (s.image) assert.match(s.image, /:v?[0-9][\w.-]*$/, `${name} pins ${s.image}`);
      else assert.equal(s.build?.context, projectRoot, `${name} is built from this repository`);
    }
  });

  it("publishes the ports the machines' configuration reaches: Temporal, the Web UI, each NATS node", () => {
    const published = (service: string, target: number) => main.project!.services[service]!.ports?.find((p) => p.target === target)?.published;
    const t = onMachines.deployment.temporal;
    assert.equal(t.mode, 'external');
    assert.equal(t.mode === 'external' && t.address, `control-host:${published('temporal', 7233)}`);
    assert.equal(t.mode === 'external' && t.uiUrl, `http://control-host:${published('temporal-ui', 8080)}`);
    const n = onMachines.deployment.nats;
    assert.deepEqual(n.mode === 'external' && n.servers, ['nats-1', 'nats-2', 'nats-3'].map((s) => `nats://control-host:${published(s, 4222)}`));
    // The control worker sits on the compose network and uses the service names.
    const c = production.deployment;
    assert.equal(c.temporal.mode === 'external' && c.temporal.address, 'temporal:7233');
    assert.deepEqual(c.nats.mode === 'external' && c.nats.servers, ['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
    for (const w of Object.values(machine.project!.services)) {
      assert.equal(w.network_mode, 'host', 'machine workers probe local agents');
      assert.deepEqual(w.extra_hosts, ['control-host=10.0.0.5'], 'control-host is the address given');
      // The catalogues ask for GPU probes: the worker gets the driver's nvidia-smi, or it refuses to start.
      const gpu = (w as { deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; capabilities?: string[] }> } } } }).deploy?.resources?.reservations?.devices ?? [];
      assert.ok(gpu.some((d) => d.driver === 'nvidia' && d.capabilities?.includes('utility')), 'nvidia-smi (utility) reaches the machine worker');
    }
  });

  it('runs the control worker and a worker per machine of the inventory, on configuration folders that load', () => {
    const configMount = (s: Service) => s.volumes?.find((v) => v.target === '/config');
    const control = main.project!.services['control-worker']!;
    assert.deepEqual(control.command, [`--max-old-space-size=${production.deployment.workers.controlWorkerHeapMb}`, 'dist/workers/control-worker.js', '--config', '/config/production']);
    assert.deepEqual(control.environment, { ...controlWorkerEnvironment }, 'the control worker runs with the environment the local stacks give it');
    assert.equal(configMount(control)?.source, path.join(projectRoot, 'config'));
    assert.equal(configMount(control)?.read_only, true);
    for (const m of onMachines.inventory.machines) {
      const worker = machine.project!.services[`worker-${m.name}`];
      assert.ok(worker, `a worker for ${m.name}`);
      assert.deepEqual(worker.profiles, [m.name]);
      assert.deepEqual(worker.command, ['dist/workers/machine-worker.js', '--machine', m.name, '--config', '/config/production/machine']);
      assert.equal(configMount(worker)?.source, path.join(projectRoot, 'config'));
    }
    for (const entry of ['dist/workers/control-worker.js', 'dist/workers/machine-worker.js']) assert.ok(existsSync(path.join(projectRoot, entry)), `${entry} is built`);
    assert.deepEqual(onMachines.inventory.machines.map((m) => m.name), production.inventory.machines.map((m) => m.name), 'one inventory on every host');
  });

  it("health checks and Prometheus use the workers' metrics ports, on 0.0.0.0", () => {
    assert.equal(production.deployment.metrics.host, '0.0.0.0');
    assert.equal(onMachines.deployment.metrics.host, '0.0.0.0');
    const controlPort = production.deployment.metrics.ports.control;
    assert.ok(controlPort);
    assert.ok(main.project!.services['control-worker']!.healthcheck!.test.join(' ').includes(`http://127.0.0.1:${controlPort}/metrics`));
    const prometheus = parse(readFileSync(path.join(projectRoot, 'config/production/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; file_sd_configs?: Array<{ files: string[] }> }>;
    };
    const controlJob = prometheus.scrape_configs.find((j) => j.job_name === 'phasegate-control');
    assert.deepEqual(controlJob?.static_configs?.[0]?.targets, [`control-worker:${controlPort}`]);
    const machineJob = prometheus.scrape_configs.find((j) => j.job_name === 'phasegate-machines');
    const sdFile = machineJob?.file_sd_configs?.[0]?.files[0];
    assert.equal(sdFile, '/etc/prometheus/targets/machines.json');
    const targets = JSON.parse(readFileSync(path.join(projectRoot, 'config/production/prometheus/targets/machines.json'), 'utf8')) as Array<{ targets: string[]; labels: { machine: string } }>;
    for (const m of onMachines.inventory.machines) {
      const port = onMachines.deployment.metrics.ports[m.name];
      assert.ok(port, `${m.name} serves metrics`);
      assert.deepEqual(targets.find((t) => t.labels.machine === m.name)?.targets, [`${m.name}:${port}`]);
      assert.ok(machine.project!.services[`worker-${m.name}`]!.healthcheck!.test.join(' ').includes(`http://127.0.0.1:${port}/metrics`));
    }
  });

  it('mounts only files that are in the repository, and every NATS node keeps JetStream on its own volume in one cluster', () => {
    for (const [name, s] of all()) {
      for (const v of s.volumes ?? []) if (v.type === 'bind') assert.ok(existsSync(v.source), `${name} mounts ${v.source}`);
    }
    const conf = readFileSync(path.join(projectRoot, 'config/production/nats/cluster.conf'), 'utf8');
    const storeDir = /store_dir:\s*(\S+)/.exec(conf)?.[1];
    const nodes = Object.entries(main.project!.services).filter(([name]) => /^nats-\d$/.test(name));
    assert.ok(nodes.length >= 3, 'a cluster of at least three');
    const dataVolumes = new Set<string>();
    for (const [name, s] of nodes) {
      assert.match(conf, new RegExp(`nats-route://${name}:6222`), `${name} is a route of the cluster`);
      assert.deepEqual(s.command?.slice(-2), ['-n', name], `${name} has its own server name`);
      const data = s.volumes?.find((v) => v.target === storeDir);
      assert.equal(data?.type, 'volume', `${name} stores JetStream on a named volume at ${storeDir}`);
      dataVolumes.add(data!.source);
    }
    assert.equal(dataVolumes.size, nodes.length, 'a volume per node');
    assert.match(conf, /jetstream\s*\{[^}]*store_dir/, 'JetStream on file storage');
  });
});

describe('the Grafana dashboard', () => {
  const dir = path.join(projectRoot, 'config/production/grafana/dashboards');
  const dashboards = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const exprs = dashboards.flatMap((f) => (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> }).panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr }))));
  // Metric names, not labels: label lists (`by (...)`, `{...}`) and legends are left out.
  const used = new Set(exprs.flatMap((e) => e.expr.replace(/\bby\s*\([^)]*\)/g, '').replace(/\{[^}]*\}/g, '').match(/\b(phasegate|temporal)_[a-z_]+/g) ?? []));

  /** phasegate's metric names as the code creates them, with the exporter's suffixes. */
  function phasegateMetrics(): Set<string> {
    const sources = ['workflows/lib/metrics.ts', 'activities/machine/probe-metrics.ts'].map((f) => readFileSync(path.join(projectRoot, f), 'utf8')).join('\n');
    const names = new Set<string>();
    for (const [, kind, name] of sources.matchAll(/create(Counter|Histogram|Gauge)\('([a-z_]+)'/g)) {
      if (kind === 'Counter') names.add(`${name}_total`);
      else if (kind === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
      else names.add(name!);
    }
    return names;
  }

  it('is provisioned from the repository, with the Prometheus data source it queries', () => {
    assert.deepEqual(dashboards, ['phasegate.json']);
    const provider = parse(readFileSync(path.join(projectRoot, 'config/production/grafana/provisioning/dashboards/phasegate.yml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    assert.equal(provider.providers[0]!.options.path, '/var/lib/grafana/dashboards');
    const datasource = parse(readFileSync(path.join(projectRoot, 'config/production/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; url: string }> };
    assert.deepEqual(datasource.datasources.map((d) => [d.uid, d.url]), [['phasegate-prometheus', 'http://prometheus:9090']]);
    assert.ok(exprs.length >= 10);
  });

  it("queries only metrics phasegate's code records, and the SDK's that its native core exports", () => {
    const ours = phasegateMetrics();
    assert.ok(ours.has('phasegate_rollbacks_total') && ours.has('phasegate_probe_latency_ms_bucket'), `found in the code: ${[...ours].join(', ')}`);
    for (const name of [...used].filter((n) => n.startsWith('phasegate_'))) assert.ok(ours.has(name), `${name} is recorded by phasegate`);
    // The SDK's metric names live in its native core (Rust): look for each base name there.
    const releases = path.join(projectRoot, 'node_modules/@temporalio/core-bridge/releases');
    const core = readdirSync(releases).map((d) => path.join(releases, d, 'index.node')).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('\n');
    for (const name of [...used].filter((n) => n.startsWith('temporal_'))) {
      const base = name.replace(/^temporal_/, '').replace(/_(total|bucket|sum|count)$/, '');
      assert.ok(core.includes(base), `${name}: "${base}" is a metric of the SDK's core`);
    }
    for (const kind of ['phasegate_agents', 'phasegate_rollbacks_total', 'phasegate_triggers_total', 'phasegate_probe_latency_ms_bucket', 'phasegate_gate_wait_ms_sum']) assert.ok(used.has(kind), `a panel for ${kind}`);
  });
});
