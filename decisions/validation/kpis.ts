/**
 * The KPIs of the validation (docs/domain.md), in one table: name, unit, floor, target, and
 * which way is better. The report (report.ts), the plan's gate criteria
 * (config/schema/plan.ts) and the gate (decisions/gates.ts) all take their ids from here.
 * System uptime's floor and target come from the plan (its validate step).
 */
export const kpiTable = {
  'system-uptime': { name: 'system uptime', unit: '%', floor: null, target: null, better: 'higher' },
  'hub-availability': { name: 'hub availability (with failover)', unit: '%', floor: 99.99, target: null, better: 'higher' },
  'message-delivery': { name: 'message delivery (JetStream)', unit: '%', floor: 99.99, target: null, better: 'higher' },
  'failover-time': { name: 'failover time (longest)', unit: 'ms', floor: 5000, target: 3000, better: 'lower' },
  'recovery-time': { name: 'recovery time (longest outage)', unit: 'ms', floor: 5 * 60_000, target: 2 * 60_000, better: 'lower' },
  overhead: { name: 'resource overhead of the machinery', unit: '%', floor: 10, target: 5, better: 'lower' },
} as const satisfies Record<string, { name: string; unit: '%' | 'ms'; floor: number | null; target: number | null; better: 'higher' | 'lower' }>;

export type KpiId = keyof typeof kpiTable;
export const kpiIds = Object.keys(kpiTable) as [KpiId, ...KpiId[]];

export type KpiVerdict = 'target' | 'floor' | 'missed' | 'not-exercised';

export interface Kpi {
  id: KpiId;
  name: string;
  value: number | null;
  unit: '%' | 'ms';
  floor: number;
  target: number | null;
  better: 'higher' | 'lower';
  verdict: KpiVerdict;
  detail: string;
}

/** A value against its floor and target: at the target, at the floor, missed, or not exercised (no value). */
export function judgeKpi(value: number | null, floor: number, target: number | null, better: 'higher' | 'lower'): KpiVerdict {
  if (value === null) return 'not-exercised';
  const ok = (limit: number) => (better === 'higher' ? value >= limit : value < limit);
  if (target !== null && ok(target)) return 'target';
  return ok(floor) ? 'floor' : 'missed';
}

/** A KPI of the table with its measured value and what it is based on. */
export function kpiOf(id: KpiId, value: number | null, detail: string, limits: { floor?: number; target?: number | null } = {}): Kpi {
  const row = kpiTable[id];
  const floor = limits.floor ?? row.floor!;
  const target = limits.target === undefined ? row.target : limits.target;
  return { id, name: row.name, value, unit: row.unit, floor, target, better: row.better, verdict: judgeKpi(value, floor, target, row.better), detail };
}
