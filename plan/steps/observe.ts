import { z } from 'zod';
import { durationMs } from '../../config/schema/common';
import { formatDuration } from '../../render/durations';
import type { StepKind } from './kind';

/** Watch the fleet for a while (the seeds' observation days) before the next step. */
const schema = z.strictObject({ durationMs });
type Observe = z.infer<typeof schema>;

export const observe = {
  schema,
  inputSchema: schema,
  compile: (o) => o,
  planProblems: () => [],
  inputProblems: () => [],
  machines: () => [],
  longestMs: (o) => o.durationMs,
  preview: (o) => ({ summary: `observe ${formatDuration(o.durationMs)}`, durationMs: o.durationMs }),
} satisfies StepKind<Observe, Observe>;
