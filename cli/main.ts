#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configDirFrom } from '../config/environment';
import { ConfigError, loadConfig, loadPlan } from '../config/load';
import { phaseInput } from '../plan/compile';
import { planPreview } from '../plan/preview';
import { previewPlan } from '../render/plan';
import { runDemo, runStack } from './demo';
import { renderDoctor, runDoctor } from './doctor';
import { ProductionStack } from '../lib/production-stack';
import { projectRoot } from '../lib/paths';
import { inventoryFromSupervisor, inventoryFromUrls } from './inventory';
import { report, standaloneValidationInput, startValidation } from './report';
import { describeStarted, startPhase } from './start';
import { showStatus } from './status';
import { answerStage, answerUndo, answerPreflight, answerWindow } from './person';
import { applyCalendar, decideGate, freezeLine, gateDecisions, steer, unfreezeLine } from './steer';
import { newKeyPair } from './sign';
import { OperatorError } from './temporal-client';

const usage = `phasegate: staged, human-gated, probe-watched rollouts on Temporal

usage:
  phasegate demo [--until-done] [--no-fault] [--plan FILE] [--config DIR]
      boot the embedded stack and run a phase over the simulated fleet
      --until-done   decide each gate from its report, run to the end, exit 0 if the phase completed
      --no-fault     do not inject the demo's one failing agent
  phasegate demo --stack-only [--config DIR]
      boot the embedded stack with no phase, until Ctrl-C: start phases by hand (README.md)
  phasegate demo --production [--until-done] [--stack-only]
      the same on the production-shaped stack (scripts/production-stack.sh): Temporal server on
      PostgreSQL with its Web UI, a three-node NATS cluster, from config/production/ (docs/production.md)
  phasegate plan check FILE [--json] [--config DIR]
      validate a plan against the inventory and preview its weeks, batches and strategies
  phasegate start FILE [--id ID] [--watch] [--json] [--config DIR]
      start a plan as a phase on the configured Temporal (a running stack: scripts/demo.sh, or production)
  phasegate status ID [--watch] [--once] [--interval SECONDS] [--json]
      progress of a phase (and its running week), a week, or an agent's migration: weeks, batches,
      per-machine counts, the open gate and its report. On a terminal it refreshes in place until the
      workflow ends (--once: print once); piped, it prints once, or with --watch a block per change
      (--json: a JSON object, one per line with --watch)
  phasegate pause ID | resume ID [--by NAME] [--reason TEXT]
  phasegate abort ID --level 1|2|3 [--by NAME] [--reason TEXT] [--wait]
      1: agents in flight, 2: the whole week, 3: every week of the phase; --wait follows the rollback
  phasegate gate go|hold|rollback-week ID [--by NAME] [--reason TEXT] [--key FILE]
      decide the open gate of a phase's running week (rollback-week rolls the week back); --key signs
      the decision with your private key, as a plan that names its deciders requires (docs/operating.md)
  phasegate stage approve|reject ID [--stage N] [--by NAME] [--reason TEXT] [--key FILE]
      decide the stage a critical-band migration waits on (ID: the migration, or its week or phase)
  phasegate freeze --reason TEXT [--by NAME] | unfreeze [--by NAME] [--reason TEXT]
      stop the line: every running phase (and any started while frozen) starts no migration, stage
      or operation; what runs finishes its current stage and holds. Only unfreeze lifts it, not resume
  phasegate calendar apply [--by NAME]
      send deployment.json's calendar (deploy windows, freeze periods) as it is now to every running
      phase: a freeze added after a phase started holds it too
  phasegate keys new --name NAME --out FILE
      make an Ed25519 key pair for signed decisions: the private key into FILE, and the line for
      deployment.json's "people" printed
  phasegate undo retry|accept ID --reason TEXT [--by NAME]
      after a failed undo or a read-back that disagrees: try the undo again, or accept the agent as it
      is (recorded as accepted-as-is and still counted as applied); ID: whatever waits, or its week or phase
  phasegate window retry|accept|rollback ID --reason TEXT [--by NAME]
      after a verification that could not measure: run it again, accept the stage, or roll back
  phasegate preflight retry|skip|proceed ID --reason TEXT [--by NAME]
      after a failed pre-flight check (the agent or its machine already unhealthy before stage 1):
      check again, leave the agent alone (refused, nothing applied), or migrate it anyway
  phasegate doctor [--machine NAME] [--json] [--config DIR]
      check a machine before its worker runs: the configuration loads, every catalogue command exists
      and is executable, each agent's health endpoint answers, nvidia-smi is there if GPU probes are
      configured, Temporal and NATS answer with the configured credentials. Exit 0 ready, 1 fix this
      machine, 2 the configuration does not load, 3 Temporal or NATS unreachable
  phasegate inventory from-supervisor CONF --machine NAME --host ADDRESS [--out FILE]
  phasegate inventory from-urls URL... --machine NAME [--out FILE]
      write a starting inventory from a supervisord.conf (programs with --port N) or from health URLs
      (asked for their name); risk factors and hubs are left as FILL-IN for you to rate
  phasegate plan input FILE [--config DIR]
      print the phaseWorkflow input for a plan (agents selected now), for \`temporal workflow start --input-file\`
  phasegate report ID [--json]
      Markdown (or JSON) report of a phase (each week's agents, rollbacks and their triggers, the gate's
      report and who decided it), or of a validation, or of a week that runs one; so far while it runs
  phasegate validate start|input [--hours 168] [--window-minutes 5] [--id ID]
      start a validation of the whole fleet outside a phase, or print its input for \`temporal workflow start\`
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      plan: { type: 'string' },
      'until-done': { type: 'boolean', default: false },
      'no-fault': { type: 'boolean', default: false },
      'stack-only': { type: 'boolean', default: false },
      production: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      interval: { type: 'string' },
      by: { type: 'string' },
      reason: { type: 'string' },
      level: { type: 'string' },
      stage: { type: 'string' },
      hours: { type: 'string' },
      'window-minutes': { type: 'string' },
      id: { type: 'string' },
      machine: { type: 'string' },
      host: { type: 'string' },
      out: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage);
    return command || values.help ? 0 : 2;
  }
  // Before the configuration is loaded: doctor reports a configuration that does not load as one
  // of its findings, and the inventory helpers write a configuration that does not exist yet.
  if (command === 'doctor') {
    const r = await runDoctor(configDirFrom(values.config), { machine: values.machine });
    process.stdout.write(`${values.json ? JSON.stringify(r) : renderDoctor(r)}\n`);
    return r.exitCode;
  }
  if (command === 'inventory' && (sub === 'from-supervisor' || sub === 'from-urls')) {
    if (!values.machine || (sub === 'from-supervisor' && (!arg || !values.host)) || (sub === 'from-urls' && positionals.length < 3)) {
      throw new OperatorError(sub === 'from-supervisor' ? 'inventory from-supervisor CONF --machine NAME --host ADDRESS' : 'inventory from-urls URL... --machine NAME');
    }
    const inventory = sub === 'from-supervisor' ? inventoryFromSupervisor(path.resolve(arg!), values.machine, values.host!) : await inventoryFromUrls(positionals.slice(2), values.machine);
    const text = `${JSON.stringify(inventory, null, 2)}\n`;
    if (values.out) {
      try {
        writeFileSync(values.out, text, { flag: 'wx' });
      } catch (err) {
        throw new OperatorError(`cannot write ${values.out}: ${(err as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists (an inventory is never overwritten: give another --out)' : (err as Error).message}`);
      }
      process.stdout.write(`wrote ${inventory.agents.length} agents of ${values.machine} to ${values.out}: rate each FILL-IN, then \`phasegate doctor\`\n`);
    } else process.stdout.write(text);
    return 0;
  }
  if (command === 'keys' && sub === 'new') {
    if (!values.name || !values.out) throw new OperatorError('keys new --name NAME --out FILE');
    const person = newKeyPair(values.name, values.out);
    process.stdout.write(`wrote the private key of ${person.name} to ${values.out} (keep it to yourself); add this to deployment.json "people":\n${JSON.stringify(person)}\n`);
    return 0;
  }
  if (command === 'demo' && values.production) {
    if (values.config) throw new OperatorError('--production writes its own configuration from config/production/ (into .data/production/config); leave out --config');
    const production = new ProductionStack({ dataDir: path.join(projectRoot, '.data', 'production') });
    const config = production.prepare();
    if (values['stack-only']) return runStack(config, production);
    return runDemo({ config, production, planFile: path.resolve(values.plan ?? path.join(config.configDir, config.deployment.plansDir, 'demo.json')), untilDone: values['until-done'], injectFault: !values['no-fault'] });
  }
  const config = loadConfig(configDirFrom(values.config));
  switch (command) {
    case 'demo':
      if (values['stack-only']) return runStack(config);
      return runDemo({
        config,
        planFile: path.resolve(values.plan ?? path.join(config.configDir, config.deployment.plansDir, 'demo.json')),
        untilDone: values['until-done'],
        injectFault: !values['no-fault'],
      });
    case 'start': {
      if (!sub) break;
      const plan = loadPlan(path.resolve(sub), config);
      const started = await startPhase(config, plan, values.id ? { id: values.id } : {});
      process.stdout.write(`${values.json ? JSON.stringify(started) : describeStarted(started)}\n`);
      if (!values.watch) return 0;
      // Scripts can wait on it: exit 0 only if the phase completed every week.
      const end = await showStatus(started.workflowId, statusOptions(config, values, true));
      return end.phase?.outcome === 'completed' ? 0 : 1;
    }
    case 'status': {
      if (!sub) break;
      // On a terminal the view follows the phase unless --once; piped, only with --watch.
      const follow = values.watch || (process.stdout.isTTY === true && !values.json && !values.once);
      await showStatus(sub, statusOptions(config, values, follow));
      return 0;
    }
    case 'pause':
    case 'resume':
    case 'abort':
    case 'gate': {
      const id = command === 'gate' ? arg : sub;
      if (command === 'gate' && (sub === 'approve' || sub === 'reject')) throw new OperatorError(`"gate ${sub}" is now "gate ${sub === 'approve' ? 'go' : 'rollback-week'}": the gate's words are go, hold and rollback-week everywhere`);
      if (!id || (command === 'gate' && !gateDecisions.includes(sub as never))) break;
      const o = { config, json: values.json, ...(values.by ? { by: values.by } : {}), ...(values.reason ? { reason: values.reason } : {}), ...(values.key ? { keyFile: values.key } : {}) };
      const out =
        command === 'gate'
          ? await decideGate(sub as (typeof gateDecisions)[number], id, o)
          : await steer(command, id, { ...o, ...(values.level ? { level: Number(values.level) } : {}) });
      process.stdout.write(`${out}\n`);
      if (command === 'abort' && values.wait) return (await showStatus(id, statusOptions(config, values, true))).execution === 'completed' ? 0 : 1;
      return 0;
    }
    case 'freeze':
    case 'unfreeze': {
      const o = { config, json: values.json, ...(values.by ? { by: values.by } : {}), ...(values.reason ? { reason: values.reason } : {}) };
      process.stdout.write(`${command === 'freeze' ? await freezeLine(o) : await unfreezeLine(o)}\n`);
      return 0;
    }
    case 'calendar': {
      if (sub !== 'apply') break;
      process.stdout.write(`${await applyCalendar({ config, json: values.json, ...(values.by ? { by: values.by } : {}) })}\n`);
      return 0;
    }
    case 'stage':
    case 'undo':
    case 'window':
    case 'preflight': {
      const verbs = { stage: ['approve', 'reject'], undo: ['retry', 'accept'], window: ['retry', 'accept', 'rollback'], preflight: ['retry', 'skip', 'proceed'] }[command];
      if (!arg || !verbs.includes(sub ?? '')) break;
      const stage = values.stage === undefined ? undefined : Number(values.stage);
      if (stage !== undefined && ![1, 2, 3].includes(stage)) throw new OperatorError(`--stage ${values.stage}: give 1, 2 or 3`);
      const o = { config, ...(values.by ? { by: values.by } : {}), ...(values.reason ? { reason: values.reason } : {}), ...(stage ? { stage } : {}), ...(values.key ? { keyFile: values.key } : {}) };
      const out =
        command === 'stage'
          ? await answerStage(sub as 'approve' | 'reject', arg, o)
          : command === 'undo'
            ? await answerUndo(sub as 'retry' | 'accept', arg, o)
            : command === 'window'
              ? await answerWindow(sub as 'retry' | 'accept' | 'rollback', arg, o)
              : await answerPreflight(sub as 'retry' | 'skip' | 'proceed', arg, o);
      process.stdout.write(`${out}\n`);
      return 0;
    }
    case 'report': {
      if (!sub) break;
      process.stdout.write(`${await report(sub, { config, json: values.json })}\n`);
      return 0;
    }
    case 'validate': {
      if (sub !== 'start' && sub !== 'input') break;
      const input = standaloneValidationInput(config, {
        label: values.id ?? `validation.${new Date().toISOString().replace(/[:.]/g, '-')}`,
        ...(values.hours !== undefined ? { hours: values.hours } : {}),
        ...(values['window-minutes'] !== undefined ? { windowMinutes: values['window-minutes'] } : {}),
      });
      process.stdout.write(`${sub === 'input' ? JSON.stringify(input) : await startValidation(config, input)}\n`);
      return 0;
    }
    case 'plan': {
      if (!arg || (sub !== 'check' && sub !== 'input')) break;
      const plan = loadPlan(path.resolve(arg), config);
      const out = sub === 'input' ? JSON.stringify(phaseInput(plan, config.inventory, config.deployment)) : values.json ? JSON.stringify(planPreview(plan, config)) : previewPlan(plan, config);
      process.stdout.write(`${out}\n`);
      return 0;
    }
  }
  // A known command with a missing or wrong argument gets its own usage lines, not the whole page.
  const own = usage.split('\n  phasegate ').filter((block) => block.startsWith(`${command} `) || block.startsWith(`${command}\n`) || (command === 'resume' && block.startsWith('pause ')));
  if (own.length) {
    process.stderr.write(`phasegate: "${positionals.join(' ')}" is missing an argument or has a wrong one; usage:\n${own.map((b) => `  phasegate ${b.trimEnd()}`).join('\n')}\n`);
    return 2;
  }
  process.stderr.write(`phasegate: unknown command "${positionals.join(' ')}"\n\n${usage}`);
  return 2;
}

function statusOptions(config: ReturnType<typeof loadConfig>, values: { json: boolean; interval?: string | undefined }, watch: boolean) {
  const seconds = values.interval === undefined ? 1 : Number(values.interval);
  if (!Number.isFinite(seconds) || seconds < 0.2 || seconds > 3600) throw new OperatorError(`--interval ${values.interval}: give seconds between 0.2 and 3600`);
  return { config, json: values.json, watch, intervalMs: Math.round(seconds * 1000), out: process.stdout };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof OperatorError) {
      process.stderr.write(`phasegate: ${err.message}\n`);
      process.exit(1);
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`phasegate: ${(err as Error).message}; \`phasegate --help\` lists the commands and their options\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`phasegate: invalid configuration in ${err.file}\n${err.issues.map((i) => `  ${i.field || '(file)'}: ${i.reason}`).join('\n')}\n`);
      process.exit(2);
    }
    process.stderr.write(`phasegate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
