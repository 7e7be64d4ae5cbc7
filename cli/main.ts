#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configDirFrom } from '../config/environment';
import { ConfigError, loadConfig, loadPlan } from '../config/load';
import { phaseInput, previewPlan } from '../lib/phase-input';
import { runDemo } from './demo';
import { report, standaloneValidationInput, startValidation } from './report';
import { decideGate, OperatorError, status, steer } from './steer';

const usage = `phasegate: staged, human-gated, probe-watched rollouts on Temporal

usage:
  phasegate demo [--until-done] [--no-fault] [--plan FILE] [--config DIR]
      boot the embedded stack and run a phase over the simulated fleet
      --until-done   decide each gate from its report, run to the end, exit 0 if the phase completed
      --no-fault     do not inject the demo's one failing agent
  phasegate plan check FILE [--config DIR]
      validate a plan against the inventory and preview its weeks, batches and strategies
  phasegate status ID [--json]
      progress of a phase (and its running week), a week, or an agent's migration
  phasegate pause ID | resume ID [--by NAME] [--reason TEXT]
  phasegate abort ID --level 1|2|3 [--by NAME] [--reason TEXT]
  phasegate gate approve|reject|hold ID [--by NAME] [--reason TEXT]
      decide the open gate of a phase's running week (reject rolls the week back)
  phasegate plan input FILE [--config DIR]
      print the phaseWorkflow input for a plan (agents selected now), for \`temporal workflow start --input-file\`
  phasegate report ID [--json]
      the validation report (Markdown, or JSON) of a validation, or of a week that runs one; so far while it runs
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
      help: { type: 'boolean', short: 'h', default: false },
      json: { type: 'boolean', default: false },
      by: { type: 'string' },
      reason: { type: 'string' },
      level: { type: 'string' },
      hours: { type: 'string' },
      'window-minutes': { type: 'string' },
      id: { type: 'string' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage);
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig(configDirFrom(values.config));
  switch (command) {
    case 'demo':
      return runDemo({
        config,
        planFile: path.resolve(values.plan ?? path.join(config.configDir, config.deployment.plansDir, 'demo.json')),
        untilDone: values['until-done'],
        injectFault: !values['no-fault'],
      });
    case 'status':
    case 'pause':
    case 'resume':
    case 'abort':
    case 'gate': {
      const id = command === 'gate' ? arg : sub;
      if (!id || (command === 'gate' && !['approve', 'reject', 'hold'].includes(sub ?? ''))) break;
      const o = { config, json: values.json, ...(values.by ? { by: values.by } : {}), ...(values.reason ? { reason: values.reason } : {}) };
      const out =
        command === 'status'
          ? await status(id, o)
          : command === 'gate'
            ? await decideGate(sub as 'approve' | 'reject' | 'hold', id, o)
            : await steer(command, id, { ...o, ...(values.level ? { level: Number(values.level) } : {}) });
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
      process.stdout.write(sub === 'check' ? `${previewPlan(plan, config)}\n` : `${JSON.stringify(phaseInput(plan, config.inventory))}\n`);
      return 0;
    }
  }
  process.stderr.write(`phasegate: unknown command "${positionals.join(' ')}"\n\n${usage}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof OperatorError) {
      process.stderr.write(`phasegate: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`phasegate: invalid configuration in ${err.file}\n${err.issues.map((i) => `  ${i.field || '(file)'}: ${i.reason}`).join('\n')}\n`);
      process.exit(2);
    }
    process.stderr.write(`phasegate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
