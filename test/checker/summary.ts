import type { ScheduleReport } from './run-schedule';

/** The closing summary: schedules, operator actions, faults, invariant violations (which must be 0). */
export function renderCheckerSummary(reports: readonly ScheduleReport[]): string {
  const sum = (f: (r: ScheduleReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const outcomes = new Map<string, number>();
  for (const r of reports) for (const [k, n] of Object.entries(r.outcomes)) outcomes.set(k, (outcomes.get(k) ?? 0) + n);
  const failing = reports.filter((r) => r.violations.length).map((r) => r.seed);
  return [
    'checker summary',
    `  schedules run ${reports.length} (seeds ${reports.length ? `${Math.min(...reports.map((r) => r.seed))}..${Math.max(...reports.map((r) => r.seed))}` : 'none'}), operator actions ${sum((r) => r.operatorActions)}, faults ${sum((r) => r.faults)}`,
    `  checked: ${sum((r) => r.actionsChecked)} simulator actions, ${sum((r) => r.workflowsChecked)} workflows, ${sum((r) => r.alertsChecked)} alerts, ${sum((r) => r.eventsAsked)} events and alerts asked, ${sum((r) => r.eventsLost)} lost`,
    `  outcomes: ${[...outcomes].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `  invariant violations ${sum((r) => r.violations.length)}${failing.length ? ` (seeds ${failing.join(', ')}: replay each with scripts/check.sh --seed S)` : ''}`,
  ].join('\n');
}
