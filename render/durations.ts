/**
 * The one way phasegate writes a duration for a person: milliseconds under a second, then
 * seconds, minutes or hours with one decimal (12.3 s, 10.1 min, 3.5 h). Pure; used by reports,
 * previews, status lines and workflow memos alike.
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 2 * 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
