// The 168-hour validation's pure parts, by job: heartbeats judged, totals kept, KPIs, the report.
export * from './heartbeats';
export * from './ledger';
export * from './kpis';
export * from './report';
