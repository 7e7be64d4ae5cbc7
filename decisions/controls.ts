/**
 * Which agents serve as an agent's contemporaneous control while its change is judged
 * (decisions/judge.ts): agents on the same machine, of the same category where there are any,
 * that this week does not change; of those candidates, the baseline keeps the ones closest in
 * speed to the agent (closestControls). They share the machine's CPU, memory and disks with the
 * agent, so a machine that gets busier slows them alike; an agent that the week changes could
 * itself be the slow one. Pure; the plan compiler names them (plan/compile.ts) and the week
 * workflow drops any its week changes (workflows/week/steps/migrate.ts), so an input written
 * by hand is held to the same rule.
 */

export interface ControlCandidate {
  name: string;
  machine: string;
  category: string;
}

/** Candidates a plan names per agent; each is probed in the baseline. */
export const maxControlCandidates = 6;
/** Controls the judge uses per agent, the candidates closest in speed: each is probed every tick of every window. */
export const maxControls = 3;

export function chooseControls(agent: { name: string; machine: string }, inventory: readonly ControlCandidate[], changedThisWeek: ReadonlySet<string>): string[] {
  const self = inventory.find((a) => a.name === agent.name);
  const onMachine = inventory.filter((a) => a.machine === agent.machine && a.name !== agent.name && !changedThisWeek.has(a.name));
  const sameCategory = self ? onMachine.filter((a) => a.category === self.category) : [];
  // Same category first (most alike in what they do), then the machine's other agents.
  const ordered = [...sameCategory, ...onMachine.filter((a) => !sameCategory.includes(a))];
  return ordered.slice(0, maxControlCandidates).map((a) => a.name);
}

/** Controls a week's input names, less any agent the week itself changes. */
export function unchangedControls(controls: readonly string[] | undefined, changedThisWeek: ReadonlySet<string>): string[] {
  return (controls ?? []).filter((c) => !changedThisWeek.has(c));
}

/**
 * Of the candidates measured in the baseline, the controls whose median response time is
 * closest to the agent's (on a log scale). A busy machine both multiplies answer times and adds
 * a wait to each; only controls about as fast as the agent cancel both (a 10 ms control beside
 * a 1 s agent cancels neither the ratio nor the difference). See decisions/judge.ts.
 */
export function closestControls(agentMedianMs: number, candidates: ReadonlyArray<{ name: string; medianMs: number }>, max = maxControls): string[] {
  const distance = (ms: number) => Math.abs(Math.log(Math.max(ms, 0.01) / Math.max(agentMedianMs, 0.01)));
  return [...candidates]
    .filter((c) => Number.isFinite(c.medianMs) && c.medianMs > 0)
    .map((c, i) => ({ ...c, i, d: distance(c.medianMs) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, max)
    .map((c) => c.name);
}
