#!/usr/bin/env node
// Builds a release of the reference agent into an agent's home: releases/<version>/ with a
// copy of agent.mjs and its release.json, the layout the supervisor catalogue switches between.
// A drill variant makes a bad release (agent.mjs lists them).
//
// node make-release.mjs --home DIR --version V [--variant crash-on-start|slow|fail-integration|gpu-leak]
//                       [--slow-factor 1.15] [--base-delay-ms 20] [--gpu-data-file FILE]
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    home: { type: 'string' },
    version: { type: 'string' },
    variant: { type: 'string' },
    'slow-factor': { type: 'string' },
    'base-delay-ms': { type: 'string' },
    'gpu-data-file': { type: 'string' },
  },
});
const variants = ['crash-on-start', 'slow', 'fail-integration', 'gpu-leak'];
const die = (msg) => {
  process.stderr.write(`make-release: ${msg}\n`);
  process.exit(2);
};
if (!values.home || !values.version) die('--home and --version are required');
if (!/^[A-Za-z0-9._+-]{1,40}$/.test(values.version)) die(`--version ${values.version}: use letters, digits and . _ + - only`);
if (values.variant && !variants.includes(values.variant)) die(`--variant ${values.variant}: one of ${variants.join(', ')}`);
if (values.variant === 'gpu-leak' && !values['gpu-data-file']) die('--variant gpu-leak needs --gpu-data-file');
const dir = path.join(values.home, 'releases', values.version);
if (existsSync(dir)) die(`${dir} exists: a release is never rebuilt in place (an agent may be running it)`);
mkdirSync(dir, { recursive: true });
copyFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'agent.mjs'), path.join(dir, 'agent.mjs'));
const release = {
  version: values.version,
  ...(values.variant ? { variant: values.variant } : {}),
  ...(values['base-delay-ms'] ? { baseDelayMs: Number(values['base-delay-ms']) } : {}),
  ...(values['slow-factor'] ? { slowFactor: Number(values['slow-factor']) } : {}),
  ...(values['gpu-data-file'] ? { gpuDataFile: path.resolve(values['gpu-data-file']) } : {}),
};
writeFileSync(path.join(dir, 'release.json'), `${JSON.stringify(release, null, 2)}\n`);
process.stdout.write(`${dir}\n`);
