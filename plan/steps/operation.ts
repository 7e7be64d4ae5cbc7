import { z } from 'zod';
import { identifier } from '../../config/schema/common';
import type { Fleet, FieldIssue, StepKind } from './kind';

/**
 * An operation of one machine's catalogue (deploying EdgeHub on pc2, say): the catalogue has
 * the command and its undo; the week registers the undo before it runs the command.
 */
const schema = z.strictObject({ machine: identifier, name: identifier });
type Operation = z.infer<typeof schema>;

function problems(o: Operation, fleet: Fleet): FieldIssue[] {
  const catalogue = fleet.catalogues[o.machine];
  if (!catalogue) return [{ field: 'machine', reason: `unknown machine "${o.machine}" (known: ${Object.keys(fleet.catalogues).join(', ')})` }];
  if (!Object.prototype.hasOwnProperty.call(catalogue.operations, o.name)) {
    return [{ field: 'name', reason: `"${o.name}" is not an operation of ${o.machine}'s catalogue (it has: ${Object.keys(catalogue.operations).join(', ') || 'none'})` }];
  }
  return [];
}

export const operation = {
  schema,
  inputSchema: schema,
  compile: (o) => o,
  planProblems: problems,
  inputProblems: problems,
  machines: (o) => [o.machine],
  longestMs: (o, ctx) => ctx.catalogues[o.machine]?.operations[o.name]?.run.timeoutMs ?? 0,
  preview: (o) => ({ summary: `${o.name} on ${o.machine}`, machine: o.machine, operation: o.name }),
} satisfies StepKind<Operation, Operation>;
