import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Commands run in a process group of their own, so that stopping one stops everything it
 * started: a wrapper script's `sleep`, a shell pipeline, a helper it forked. Killing only the
 * direct child (what execFile's timeout does) leaves those behind, re-parented to PID 1, and
 * a command left behind can still take effect after phasegate has undone it.
 */

/** How a command ended. Only 'exited' means it ran to its own end; the others were killed with their whole group. */
export type CommandEnd = 'exited' | 'timed-out' | 'cancelled';

export interface GroupRun {
  exitCode: number | null;
  signal: string | null;
  ended: CommandEnd;
  /** Processes of the group still alive after the direct child ended, killed by us. */
  leftoversKilled: boolean;
  /** The group was seen gone (no live member) before this returned. */
  groupGone: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Why the command could not start (ENOENT, EACCES), or null. */
  spawnError: string | null;
}

const maxBufferBytes = 1024 * 1024;
/** A cancelled command gets SIGTERM first and this long to clean up, then SIGKILL. */
const cancelGraceMs = 2000;
/** How long to wait for a killed group's members to be gone. */
const goneWithinMs = 5000;

/** Live members of a process group (zombies excluded: they can no longer act). */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readStat(Number(e));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(e));
  }
  return members;
}

/** Fields of /proc/PID/stat: state, process group, start time (clock ticks since boot). */
export function readStat(pid: number): { state: string; pgrp: number; startTime: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces; fields follow the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, pgrp: Number(rest[2]), startTime: rest[19]! };
  } catch {
    return null;
  }
}

/** Any member left, zombies included (signal 0 only checks). */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group
  }
}

async function waitGroupGone(pgid: number, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (!groupExists(pgid) || liveGroupMembers(pgid).length === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Commands this worker has started and not yet seen gone, kept in a small file so that a
 * worker restarted after a crash can stop what its previous incarnation left running (a
 * command orphaned by a SIGKILLed worker must not land after the retry or the undo).
 */
export class CommandLedger {
  private readonly live = new Map<number, { startTime: string; command: string }>();

  constructor(private readonly file: string | null) {}

  /** Kills every group a previous run of this worker left behind; returns how many. */
  reapLeftovers(): number {
    if (!this.file) return 0;
    let entries: Array<{ pgid: number; startTime: string }> = [];
    try {
      entries = JSON.parse(readFileSync(this.file, 'utf8')) as typeof entries;
    } catch {
      entries = [];
    }
    let reaped = 0;
    for (const e of entries) {
      // The leader's start time guards against a reused process id.
      const stat = readStat(e.pgid);
      if (stat && stat.startTime === e.startTime && killGroup(e.pgid, 'SIGKILL')) reaped++;
    }
    this.saveNow();
    return reaped;
  }

  add(pgid: number, command: string): void {
    const stat = readStat(pgid);
    this.live.set(pgid, { startTime: stat?.startTime ?? '', command });
    this.save();
  }

  remove(pgid: number): void {
    this.live.delete(pgid);
    this.save();
  }

  /** Synchronously kills every group still running (the worker process is exiting). */
  killAll(): void {
    for (const pgid of this.live.keys()) killGroup(pgid, 'SIGKILL');
  }

  private writing = false;
  private dirty = false;

  /**
   * Written off the event loop's hot path: a probe or an action must not wait on the disk. One
   * write at a time, the latest state last; a crash between a start and its write loses only
   * that one entry (a command then ends by its own timeout).
   */
  private save(): void {
    if (!this.file) return;
    this.dirty = true;
    if (this.writing) return;
    this.writing = true;
    void (async () => {
      while (this.dirty) {
        this.dirty = false;
        const tmp = `${this.file}.tmp`;
        try {
          await mkdir(path.dirname(this.file!), { recursive: true });
          await writeFile(tmp, JSON.stringify([...this.live].map(([pgid, v]) => ({ pgid, ...v }))));
          await rename(tmp, this.file!);
        } catch {
          // A ledger that cannot be written only weakens the clean-up after a crash.
        }
      }
      this.writing = false;
    })();
  }

  /** The ledger as it must be on disk before this worker takes any task (at start). */
  saveNow(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, JSON.stringify([...this.live].map(([pgid, v]) => ({ pgid, ...v }))));
  }
}

let defaultLedger = new CommandLedger(null);
let exitHookInstalled = false;

/** Where this process records its command groups (one file per worker); kills leftovers of a previous run. */
export function useCommandLedger(file: string): { reaped: number } {
  defaultLedger = new CommandLedger(file);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => defaultLedger.killAll());
  }
  return { reaped: defaultLedger.reapLeftovers() };
}

/**
 * Runs a command (no shell) in its own process group with a timeout. On timeout the whole
 * group is killed at once; on cancellation it gets SIGTERM, then SIGKILL after a short grace.
 * When the direct child ends, anything it left in the group is killed too. Resolves only once
 * the group is gone (or after a bounded wait, reported as groupGone: false): the caller may
 * then treat the command as over. Never rejects.
 */
export function runInGroup(command: string, args: string[], o: { timeoutMs: number; cwd: string; signal?: AbortSignal; env?: NodeJS.ProcessEnv }): Promise<GroupRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    let ended: CommandEnd = 'exited';
    let out = '';
    let err = '';
    let spawnError: string | null = null;
    const child = spawn(command, args, { cwd: o.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, ...(o.env ? { env: o.env } : {}) });
    const pgid = child.pid;
    if (pgid !== undefined) defaultLedger.add(pgid, command);
    child.stdout!.on('data', (d: Buffer) => {
      if (out.length < maxBufferBytes) out += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < maxBufferBytes) err += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      ended = 'timed-out';
      if (pgid !== undefined) killGroup(pgid, 'SIGKILL');
    }, o.timeoutMs);
    let termTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (ended !== 'exited' || pgid === undefined) return;
      ended = 'cancelled';
      killGroup(pgid, 'SIGTERM');
      termTimer = setTimeout(() => killGroup(pgid, 'SIGKILL'), cancelGraceMs);
    };
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    let closed = false;
    const streamsClosed = new Promise<void>((r) => child.once('close', () => ((closed = true), r())));
    let finished = false;
    const finish = async (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      let leftoversKilled = false;
      let groupGone = true;
      if (pgid !== undefined) {
        // The leader is gone; whatever it started in its group goes with it. The usual case,
        // an empty group, costs one kill(2) that finds nothing; /proc is read only when the
        // group still has members (maybe only zombies awaiting their reaper).
        if (groupExists(pgid) && liveGroupMembers(pgid).length > 0) {
          leftoversKilled = killGroup(pgid, 'SIGKILL');
          groupGone = await waitGroupGone(pgid, goneWithinMs);
        }
        if (termTimer) clearTimeout(termTimer);
        if (groupGone) defaultLedger.remove(pgid);
      }
      // Output still buffered in the pipes; a process that left the group may hold them open.
      if (!closed) await Promise.race([streamsClosed, new Promise((r) => setTimeout(r, 1000))]);
      resolve({
        exitCode: code,
        signal,
        ended,
        leftoversKilled,
        groupGone,
        durationMs: Math.round(performance.now() - started),
        stdout: out,
        stderr: spawnError ?? err,
        spawnError,
      });
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      spawnError = `${e.code ?? 'error'}: ${e.message}`;
      if (pgid === undefined) void finish(null, null);
    });
    child.once('exit', (code, signal) => void finish(code, signal));
  });
}

/**
 * A long-lived command (no shell) in its own process group, its output line by line: for a
 * reader that serves many probes from one process (activities/machine/gpu-reader.ts). Recorded
 * in the ledger like any command, so a worker's crash or exit leaves nothing running; `stop`
 * kills the whole group.
 */
export function spawnLongLived(
  command: string,
  args: string[],
  o: { cwd: string; onLine: (line: string) => void; onExit: (why: string) => void },
): { stop(): void } {
  const child = spawn(command, args, { cwd: o.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  const pgid = child.pid;
  if (pgid !== undefined) defaultLedger.add(pgid, command);
  let partial = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) o.onLine(line);
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (err.length < 2000) err += d.toString('utf8');
  });
  let stopped = false;
  child.once('error', (e: NodeJS.ErrnoException) => o.onExit(`${command} could not start: ${e.code ?? e.message}`));
  child.once('exit', (code, signal) => {
    if (pgid !== undefined) {
      killGroup(pgid, 'SIGKILL');
      defaultLedger.remove(pgid);
    }
    if (!stopped) o.onExit(`${command} ended (${code ?? signal})${err ? `: ${err.trim().slice(0, 200)}` : ''}`);
  });
  return {
    stop() {
      stopped = true;
      if (pgid !== undefined) killGroup(pgid, 'SIGKILL');
    },
  };
}
