import type { Reading } from '../../decisions/triggers';

/**
 * A plan's PromQL probes (thresholds.queries in config/schema/plan.ts), asked of the Prometheus
 * that the machine's catalogue names, as Argo Rollouts' and Flagger's metric analyses do: an
 * instant query with the agent's labels put in, one number out. The same rules as the built-in
 * probes: a result is a measurement; no series, a server that errs or cannot be reached is no
 * data, never a trigger (decisions/triggers.ts judges the measurement against `above`).
 */

/** A label value as PromQL's double-quoted strings take it. */
export function promLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** The query with `{agent}` and `{machine}` replaced by the agent's labels (escaped). */
export function promQueryFor(query: string, labels: { agent: string; machine: string }): string {
  return query.replace(/\{agent\}/g, promLabel(labels.agent)).replace(/\{machine\}/g, promLabel(labels.machine));
}

interface PromResponse {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

/** One number from an instant query's answer, or why there is none. Pure (test/unit/prometheus.test.ts). */
export function promValue(body: PromResponse): { value: number; series: number } | { none: string } {
  if (body.status !== 'success') return { none: `Prometheus answered ${body.errorType ?? 'error'}: ${body.error ?? JSON.stringify(body).slice(0, 200)}` };
  const { resultType, result } = body.data ?? {};
  const num = (v: unknown) => (Array.isArray(v) && typeof v[1] === 'string' ? Number(v[1]) : Number.NaN);
  let values: number[];
  if (resultType === 'scalar') values = [num(result)];
  else if (resultType === 'vector' && Array.isArray(result)) values = result.map((s: { value?: unknown }) => num(s.value));
  else return { none: `a ${resultType ?? 'missing'} result, not an instant vector or scalar` };
  if (values.length === 0) return { none: 'no series matched' };
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { none: 'the result is NaN or infinite' };
  // Several series (the query did not aggregate): the largest counts, and the reading says so.
  return { value: Math.max(...finite), series: values.length };
}

export async function readPromQuery(baseUrl: string, timeoutMs: number, q: { name: string; query: string }, labels: { agent: string; machine: string }): Promise<Reading> {
  const query = promQueryFor(q.query, labels);
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  const noData = (detail: string): Reading => ({ metric: 'query', probe: q.name, status: 'no-data', detail: `query ${q.name}: ${detail}` });
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}, not JSON` }))) as PromResponse;
    const v = promValue(body);
    if ('none' in v) return noData(v.none);
    return { metric: 'query', probe: q.name, status: 'measured', value: v.value, detail: v.series > 1 ? `${query} (the largest of ${v.series} series)` : query };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return noData(e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `Prometheus unreachable (${e.cause?.code ?? e.message})`);
  }
}
