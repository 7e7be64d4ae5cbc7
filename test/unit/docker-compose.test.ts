import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../config/load';
import { projectRoot } from '../../lib/paths';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  environment?: Record<string, string>;
  profiles?: string[];
  ports?: string[];
}

// No Docker engine here: the file is checked for the promises it makes instead of run.
describe('docker-compose.yml (production sketch)', () => {
  const text = readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8');
  const compose = parse(text) as { services: Record<string, Service> };

  it('every service has a health check and a restart policy', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      assert.ok(s.healthcheck?.test?.length, `${name} has a health check`);
      assert.equal(s.restart, 'unless-stopped', `${name} restarts`);
    }
  });

  it('pins every image to a version', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.image) assert.match(s.image, /:[0-9][\w.-]*$/, `${name} pins ${s.image}`);
    }
  });

  it('holds no secret: passwords come from the environment', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|PWD|SECRET|TOKEN/i.test(key)) assert.match(String(value), /^\$\{[A-Z_]+:\?/, `${name}.${key} comes from the environment`);
      }
    }
  });

  it('runs the control worker and a worker per machine of the inventory, on the production configuration', () => {
    const config = loadConfig(path.join(projectRoot, 'config', 'production'));
    assert.ok(compose.services['control-worker']?.command?.includes('/config/production'));
    for (const m of config.inventory.machines) {
      const worker = compose.services[`worker-${m.name}`];
      assert.ok(worker, `a worker for ${m.name}`);
      assert.deepEqual(worker.profiles, [m.name]);
      assert.deepEqual(worker.command?.slice(0, 3), ['dist/workers/machine-worker.js', '--machine', m.name]);
    }
    const t = config.deployment.temporal;
    assert.equal(t.mode, 'external');
    assert.ok(t.mode === 'external' && compose.services.temporal?.ports?.includes(`${t.address.split(':')[1]}:7233`));
  });
});
