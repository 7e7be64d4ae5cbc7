import type { Kpi, ValidationReport } from '../decisions/validation';
import { formatDuration } from './durations';

/** The report as Markdown: verdict, KPIs against floor and target, machines, hubs, agents, incidents, failovers. */
export function renderValidationMarkdown(r: ValidationReport): string {
  const v = (k: Kpi) => (k.value === null ? '-' : k.unit === 'ms' ? formatDuration(k.value) : `${k.value} %`);
  const lim = (k: Kpi, x: number | null) => (x === null ? '-' : `${k.better === 'higher' ? '>=' : '<'} ${k.unit === 'ms' ? formatDuration(x) : `${x} %`}`);
  const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : 'ongoing');
  const lines = [
    `# Validation ${r.id}: ${r.verdict.toUpperCase()}`,
    '',
    `${r.reason}.`,
    '',
    `- window: ${when(r.startedAt)} to ${when(r.endedAt)} (${r.coveredHours} of ${r.plannedHours} h${r.endedEarly ? ', ended early' : ''})`,
    `- error budget: ${formatDuration(r.budget.spentMs)} spent of ${formatDuration(r.budget.budgetMs)} (${r.budget.spentPct} %)`,
    `- history: ${r.history.windows} windows over ${r.history.runs} runs; largest run ${r.history.largestRunEvents} events`,
    '',
    '## KPIs',
    '',
    '| KPI | value | floor | target | verdict | detail |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.kpis.map((k) => `| ${k.name} | ${v(k)} | ${lim(k, k.floor)} | ${lim(k, k.target)} | ${k.verdict} | ${k.detail} |`),
    '',
    '## Machines',
    '',
    '| machine | agents | uptime | heartbeat path | heartbeats sent | received | late |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.machines.map((m) => `| ${m.machine} | ${m.agents} | ${m.uptimePct} % | ${m.heartbeatPathPct} % | ${m.sent} | ${m.received} | ${m.late} |`),
    '',
    '## Hubs',
    '',
    '| hub | machine | availability | downtime |',
    '| --- | --- | --- | --- |',
    ...r.hubs.map((h) => `| ${h.name} | ${h.machine} | ${h.availabilityPct} % | ${formatDuration(h.downMs)} |`),
    '',
    '## Incidents',
    '',
    ...(r.incidents.length
      ? ['| start | end | what | machine | downtime | cause |', '| --- | --- | --- | --- | --- | --- |', ...r.incidents.map((i) => `| ${when(i.startedAt)} | ${when(i.endedAt)} | ${i.kind} ${i.name} | ${i.machine} | ${formatDuration(i.downMs)} | ${i.cause} |`)]
      : ['None.']),
    ...(r.incidentsDropped ? ['', `(${r.incidentsDropped} more incidents not listed)`] : []),
    '',
    '## Failovers',
    '',
    ...(r.failovers.length
      ? ['| agent | from | to | lost hub at | failover time | back on own hub after |', '| --- | --- | --- | --- | --- | --- |', ...r.failovers.map((f) => `| ${f.agent} | ${f.fromHub} | ${f.toHub} | ${when(new Date(f.lostAt).toISOString())} | ${formatDuration(f.failoverMs)} | ${f.recoveredMs === null ? 'not yet' : formatDuration(f.recoveredMs)} |`)]
      : ['None.']),
    '',
    '## Agents',
    '',
    '| agent | machine | uptime | downtime | restarts | heartbeats sent | received | failovers |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.agents.map((a) => `| ${a.name} | ${a.machine} | ${a.uptimePct} % | ${formatDuration(a.downMs)} | ${a.restarts} | ${a.sent} | ${a.received} | ${a.failovers} |`),
    '',
  ];
  return lines.join('\n');
}
