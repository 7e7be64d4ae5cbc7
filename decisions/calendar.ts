// The parser alone: the package's index also loads its crontab-file reader (node:fs), which the workflow sandbox refuses.
import { CronExpressionParser } from 'cron-parser/dist/CronExpressionParser';

/**
 * Deploy windows and calendar freezes (deployment.json `calendar`; docs/operating.md): when new
 * work may start. Outside every window, or inside a freeze period, no migration, stage or
 * operation starts; what runs finishes its current stage and holds (workflows/week/calendar.ts).
 * Pure: the week asks it at its start and again at each change it predicts.
 */

export const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof weekdays)[number];

export interface DeployCalendar {
  /** An IANA time zone, e.g. Europe/Berlin: the windows' days and hours are read there. */
  timeZone: string;
  /**
   * When new work may start: these days, from `from` to `to` ("HH:MM", `to` up to "24:00"), or
   * from each time a cron expression fires (five fields, in the time zone; read by cron-parser)
   * for `forMinutes`. None: always, freezes aside.
   */
  windows?: CalendarWindow[];
  /** Periods when nothing new starts, whatever the windows say. */
  freezes?: Array<{ from: string; to: string; reason: string }>;
}

export type CalendarWindow = { days: Weekday[]; from: string; to: string } | { cron: string; forMinutes: number };
const isCron = (w: CalendarWindow): w is { cron: string; forMinutes: number } => 'cron' in w;

export interface CalendarState {
  open: boolean;
  /** Why it is closed (a freeze's reason, or outside the windows), null when open. */
  why: string | null;
  /** When it next opens or closes (ms since the epoch); null when nothing changes within the horizon. */
  changesAtMs: number | null;
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Why a calendar cannot be used, field by field; [] when it can. */
export function calendarProblems(c: DeployCalendar): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: c.timeZone });
  } catch {
    out.push({ path: ['timeZone'], message: `"${c.timeZone}" is not a time zone (an IANA name such as Europe/Berlin or UTC)` });
  }
  c.windows?.forEach((w, i) => {
    if (isCron(w)) {
      if (w.cron.trim().split(/\s+/).length !== 5) out.push({ path: ['windows', i, 'cron'], message: `"${w.cron}": five fields (minute hour day-of-month month day-of-week)` });
      else {
        try {
          CronExpressionParser.parse(w.cron, { tz: 'UTC' });
        } catch (err) {
          out.push({ path: ['windows', i, 'cron'], message: `"${w.cron}": ${(err as Error).message}` });
        }
      }
      return;
    }
    if (minutes(w.from) >= minutes(w.to)) out.push({ path: ['windows', i, 'to'], message: `${w.to} is not after ${w.from}: a window ends the day it starts (for one across midnight, write two)` });
  });
  c.freezes?.forEach((f, i) => {
    if (!(Date.parse(f.to) > Date.parse(f.from))) out.push({ path: ['freezes', i, 'to'], message: `${f.to} is not after ${f.from}` });
  });
  return out;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The weekday and minute of the day at `ms` in the calendar's time zone. */
function localTime(timeZone: string, ms: number): { day: Weekday; minute: number } {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  let day = 'sun';
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(ms)) {
    if (p.type === 'weekday') day = p.value.toLowerCase().slice(0, 3);
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { day: day as Weekday, minute: hour * 60 + minute };
}

/** Open or closed at one instant, and why. */
function stateAt(c: DeployCalendar, ms: number): { open: boolean; why: string | null } {
  const freeze = c.freezes?.find((f) => Date.parse(f.from) <= ms && ms < Date.parse(f.to));
  if (freeze) return { open: false, why: `calendar freeze until ${freeze.to}: ${freeze.reason}` };
  if (!c.windows?.length) return { open: true, why: null };
  const t = localTime(c.timeZone, ms);
  const inside = c.windows.some((w) => (isCron(w) ? cronOpenAt(w, c.timeZone, ms) : w.days.includes(t.day) && minutes(w.from) <= t.minute && t.minute < minutes(w.to)));
  return inside ? { open: true, why: null } : { open: false, why: `outside the deploy windows (${c.windows.map((w) => (isCron(w) ? `"${w.cron}" for ${w.forMinutes} min` : `${w.days.join(',')} ${w.from}-${w.to}`)).join('; ')} ${c.timeZone})` };
}

/** A cron window is open at `ms` when the expression fired within the `forMinutes` before it. */
function cronOpenAt(w: { cron: string; forMinutes: number }, timeZone: string, ms: number): boolean {
  const fired = CronExpressionParser.parse(w.cron, { currentDate: new Date(ms - w.forMinutes * minute), tz: timeZone }).next().getTime();
  return fired <= ms;
}

/** The instants a cron window opens and closes between `fromMs` and `toMs` (at most 2,000 firings). */
function cronEdges(w: { cron: string; forMinutes: number }, timeZone: string, fromMs: number, toMs: number): number[] {
  const it = CronExpressionParser.parse(w.cron, { currentDate: new Date(fromMs - w.forMinutes * minute), tz: timeZone });
  const edges: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const f = it.next().getTime();
    if (f > toMs) break;
    edges.push(f, f + w.forMinutes * minute);
  }
  return edges;
}

const minute = 60_000;
/** How far ahead a change is looked for: a week and a day covers any weekly window. */
export const calendarHorizonMs = 8 * 24 * 60 * minute;

/**
 * Whether new work may start at `nowMs`, why not, and when that next changes: windows change on
 * minute boundaries, freezes at their own instants, so the next change is the first minute (or
 * freeze edge) whose state differs.
 */
export function calendarState(c: DeployCalendar, nowMs: number): CalendarState {
  const now = stateAt(c, nowMs);
  const end = nowMs + calendarHorizonMs;
  const cronWindows = (c.windows ?? []).filter(isCron);
  const dayWindows = (c.windows ?? []).filter((w) => !isCron(w)) as Array<{ days: Weekday[]; from: string; to: string }>;
  const edges = [...(c.freezes ?? []).flatMap((f) => [Date.parse(f.from), Date.parse(f.to)]), ...cronWindows.flatMap((w) => cronEdges(w, c.timeZone, nowMs, end))].filter((e) => e > nowMs).sort((a, b) => a - b);
  // Cron windows and freezes change at their own edges. Day windows' edges fall on local minutes that are multiples of `step`, and time zones are whole
  // quarter hours from UTC (a few are not: gcd with 15 keeps those right), so only instants on
  // that grid can change the windows' answer.
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const step = dayWindows.flatMap((w) => [minutes(w.from), minutes(w.to)]).reduce(gcd, 15) * minute || minute;
  let ei = 0;
  for (let t = nowMs; ; ) {
    // Windows change on minute boundaries, freezes at their edges: the next instant to look at.
    const nextMinute = dayWindows.length ? Math.floor(t / step) * step + step : Infinity;
    const nextEdge = ei < edges.length ? edges[ei]! : Infinity;
    t = Math.min(nextMinute, nextEdge);
    if (!Number.isFinite(t) || t > end) return { ...now, changesAtMs: null };
    while (ei < edges.length && edges[ei]! <= t) ei++;
    const s = stateAt(c, t);
    if (s.open !== now.open || s.why !== now.why) return { ...now, changesAtMs: t };
  }
}
