import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../lib/paths';

/**
 * What one reliability suite proved, appended to one file per test run so that
 * scripts/test.sh can print a single summary across every suite at the end.
 */
export interface ReliabilityFigures {
  suite: string;
  faultsInjected: number;
  phasesFinished: number;
  actionsChecked: number;
  inputsRejected: number;
  eventsLost: number;
  /** One line of what happened, for the summary. */
  detail: string;
}

export const reliabilitySummaryFile = () => process.env.PHASEGATE_RELIABILITY_SUMMARY ?? path.join(projectRoot, '.data', 'reliability-summary.jsonl');

export function recordReliability(figures: ReliabilityFigures): void {
  const file = reliabilitySummaryFile();
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(figures)}\n`);
}

/** The summary printed after the suites: one line per suite, then the totals. */
export function renderReliabilitySummary(rows: ReliabilityFigures[]): string {
  const total = (k: keyof Omit<ReliabilityFigures, 'suite' | 'detail'>) => rows.reduce((n, r) => n + r[k], 0);
  const lines = ['reliability summary'];
  for (const r of rows) {
    lines.push(`  ${r.suite}: ${r.faultsInjected} faults, ${r.phasesFinished} phases finished, ${r.actionsChecked} actions checked, ${r.inputsRejected} inputs rejected, ${r.eventsLost} events lost; ${r.detail}`);
  }
  lines.push(
    `  total: faults injected ${total('faultsInjected')}, phases finished ${total('phasesFinished')}, actions checked ${total('actionsChecked')}, inputs rejected ${total('inputsRejected')}, events lost ${total('eventsLost')}`,
  );
  return lines.join('\n');
}

// `node dist/test/support/reliability-summary.js` prints the summary of the last test run.
if (require.main === module) {
  const file = reliabilitySummaryFile();
  const rows = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ReliabilityFigures)
    : [];
  process.stdout.write(`${rows.length ? renderReliabilitySummary(rows) : 'reliability summary: no reliability suite ran'}\n`);
}
