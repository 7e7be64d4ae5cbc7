import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../lib/paths';
import type { GeneratedFleet } from '../../simulator/generate-fleet';

/**
 * A fleet of real processes for end-to-end tests: the reference agent (examples/agent/) under
 * Debian's supervisor, one supervisord per machine with its own socket and folder, and the
 * catalogue of examples/agent/catalogue.supervisor.json with its paths pointed at this fleet.
 * Each machine has its own loopback address (test/support/harness.ts gives each its own
 * 127.x.y.N), and a machine given a prefix runs in its own network namespace: the agents' health
 * endpoints, hubs and the catalogue's commands are real.
 */

export const agentDir = path.join(projectRoot, 'examples', 'agent');
const templatePath = path.join(agentDir, 'catalogue.supervisor.json');

export interface ReferenceAgent {
  name: string;
  machine: string;
  port: number;
  /** Ratings of the risk matrix; low everywhere is a rapid migration, medium a staged one. */
  band: 'low' | 'medium';
}

export interface ReferenceFleet {
  root: string;
  agents: ReferenceAgent[];
  machines: string[];
  /** The inventory and catalogues for startTestStack({ fleet }) (hosts are the harness's). */
  fleet: GeneratedFleet;
  /** Writes each agent's home and each machine's supervisord.conf (hosts known from the test configuration). */
  install(hosts: Record<string, string>): void;
  /** Starts one supervisord per machine and waits until every program runs. */
  start(): Promise<void>;
  stop(): Promise<void>;
  home(agent: string): string;
  supervisorConf(machine: string): string;
  /** The agent's own report (GET /report), parsed. */
  report(agent: string): Promise<{ release: string; pid: number; configs: string[] }>;
  /** Where the `current` link of the agent points. */
  currentRelease(agent: string): string;
  /** The agentctl journal of the agent: one line per action it carried out. */
  journal(agent: string): Array<{ action: string; change: string; stage: string; key: string; outcome: string }>;
  /** Stages of a change whose applied marker is on the agent's disk. */
  appliedStages(agent: string, change: string): number[];
}

/** The template catalogue with the repository's agentctl and this fleet's folders in place of /opt/phasegate and /srv/fleet. */
export function catalogueFor(machine: string, root: string): Record<string, unknown> {
  const text = readFileSync(templatePath, 'utf8')
    .replaceAll('/opt/phasegate/examples/agent/agentctl', path.join(agentDir, 'agentctl'))
    .replaceAll('/srv/fleet', path.join(root, machine));
  return { ...(JSON.parse(text) as Record<string, unknown>), machine };
}

/**
 * `prefixes`: a command prefix per machine that runs a process on that machine's host (for a
 * machine in its own network namespace, `ip netns exec NS`, test/support/netns.ts): its
 * supervisord, and the test's own reads of its agents' reports, run under it.
 */
export function referenceFleet(agents: ReferenceAgent[], opts: { prefixes?: Record<string, string[]> } = {}): ReferenceFleet {
  const root = mkdtempSync(path.join(os.tmpdir(), 'phasegate-reference-fleet-'));
  const machines = [...new Set(agents.map((a) => a.machine))];
  const hubs = machines.map((m, i) => ({ name: `Hub-${m}`, machine: m, port: 19_500 + i }));
  const risk = (band: ReferenceAgent['band']) => (band === 'low' ? { gpu: 'low', threading: 'low', databases: 'low', role: 'low' } : { gpu: 'medium', threading: 'medium', databases: 'low', role: 'low' });
  const inventory = {
    version: 1,
    machines: machines.map((name) => ({ name, host: '127.0.0.1', description: `reference-agent machine ${name} (supervisord in ${path.join(root, name)})` })),
    hubs,
    agents: agents.map((a, i) => ({
      name: a.name,
      machine: a.machine,
      category: 'utility',
      healthPort: a.port,
      healthPath: '/health',
      hub: `Hub-${a.machine}`,
      failoverHub: `Hub-${machines[(machines.indexOf(a.machine) + 1) % machines.length]}`,
      version: '1.0.0',
      source: { sizeKb: 5 + i },
      risk: risk(a.band),
    })),
  } as unknown as GeneratedFleet['inventory'];
  const catalogues = Object.fromEntries(machines.map((m) => [m, catalogueFor(m, root)]));
  const supervisors = new Map<string, ChildProcess>();
  const hostOf: Record<string, string> = {};
  const supervisorConf = (machine: string) => path.join(root, machine, 'supervisord.conf');
  const home = (agent: string) => {
    const a = agents.find((x) => x.name === agent);
    if (!a) throw new Error(`no reference agent ${agent}`);
    return path.join(root, a.machine, a.name);
  };
  const ctl = (machine: string, ...args: string[]) => execFileSync('supervisorctl', ['-c', supervisorConf(machine), ...args], { encoding: 'utf8', timeout: 15_000 });

  return {
    root,
    agents,
    machines,
    fleet: { inventory, catalogues, plan: {} },
    home,
    supervisorConf,
    install(hosts) {
      Object.assign(hostOf, hosts);
      for (const m of machines) {
        const hub = hubs.find((h) => h.machine === m)!;
        execFileSync(
          process.execPath,
          [path.join(agentDir, 'install.mjs'), '--fleet-root', path.join(root, m), '--machine', m, '--host', hosts[m]!, '--hub', `${hub.name}:${hub.port}`, ...agents.filter((a) => a.machine === m).flatMap((a) => ['--agent', `${a.name}:${a.port}`])],
          { stdio: 'pipe', timeout: 30_000 },
        );
      }
    },
    async start() {
      for (const m of machines) {
        const [command, ...args] = [...(opts.prefixes?.[m] ?? []), 'supervisord', '-c', supervisorConf(m)];
        const child = spawn(command!, args, { stdio: 'ignore' });
        supervisors.set(m, child);
      }
      const deadline = Date.now() + 30_000;
      for (const m of machines) {
        for (;;) {
          let status = '';
          try {
            status = ctl(m, 'status');
          } catch (err) {
            status = String((err as { stdout?: string }).stdout ?? '');
          }
          const lines = status.trim().split('\n').filter(Boolean);
          if (lines.length === agents.filter((a) => a.machine === m).length + 1 && lines.every((l) => /\sRUNNING\s/.test(l))) break;
          if (Date.now() > deadline) throw new Error(`supervisord of ${m} did not bring every program up:\n${status}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    async stop() {
      await Promise.all(
        [...supervisors.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
              child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              // supervisord stops every program (each in its own process group) on SIGTERM.
              child.kill('SIGTERM');
            }),
        ),
      );
      if (!process.exitCode) rmSync(root, { recursive: true, force: true });
    },
    async report(agent) {
      const a = agents.find((x) => x.name === agent)!;
      const [command, ...args] = [...(opts.prefixes?.[a.machine] ?? []), 'curl', '-sf', '--max-time', '5', `http://${hostOf[a.machine]}:${a.port}/report`];
      const text = await new Promise<string>((resolve, reject) => execFile(command!, args, { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
      const field = (k: string) => text.split('\n').filter((l) => l.startsWith(`${k} `)).map((l) => l.slice(k.length + 1));
      return { release: field('release')[0] ?? '', pid: Number(field('pid')[0]), configs: field('config') };
    },
    currentRelease(agent) {
      return path.basename(readlinkSync(path.join(home(agent), 'current')));
    },
    journal(agent) {
      const file = path.join(home(agent), '.phasegate', 'journal');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [, action, change, stage, key, ...outcome] = line.split(' ');
          return { action: action!, change: change!, stage: stage!, key: key!, outcome: outcome.join(' ') };
        });
    },
    appliedStages(agent, change) {
      return [1, 2, 3].filter((s) => existsSync(path.join(home(agent), '.phasegate', `applied.${change}.stage-${s}`)));
    },
  };
}

/**
 * Prepares a change on an agent the way a release is delivered before its rollout: release
 * `version` built into releases/ (a drill variant for a bad build), and the change's three
 * stages: stage 1 switches the release, stages 2 and 3 each add a configuration file.
 */
export function prepareChange(fleet: ReferenceFleet, agent: string, change: string, version: string, variant?: string): void {
  const h = fleet.home(agent);
  execFileSync(process.execPath, [path.join(agentDir, 'make-release.mjs'), '--home', h, '--version', version, ...(variant ? ['--variant', variant] : [])], { stdio: 'pipe' });
  for (const stage of [1, 2, 3]) mkdirSync(path.join(h, 'changes', change, `stage-${stage}`), { recursive: true });
  writeFileSync(path.join(h, 'changes', change, 'stage-1', 'release'), `${version}\n`);
  writeFileSync(path.join(h, 'changes', change, 'stage-2', 'config.json'), `${JSON.stringify({ hubTimeoutMs: 5000 })}\n`);
  writeFileSync(path.join(h, 'changes', change, 'stage-3', 'config.json'), `${JSON.stringify({ failover: true })}\n`);
}
