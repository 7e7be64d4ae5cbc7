import type { Inventory } from '../config/schema/inventory';
import type { Plan, PlanStep } from '../config/schema/plan';
import { selectAgents } from '../config/select';
import type { FleetMember } from '../decisions/validation';
import type { PhaseInput } from '../workflows/phase';
import type { ValidationInput } from '../workflows/validation';

/**
 * A plan compiled into workflow input: each migrate step's agents selected from the inventory
 * now, each validation's fleet listed. What `phasegate plan input` prints and `start` sends.
 */

/** Turns a validated plan into the phase workflow's input: each migrate step's agents selected now. */
export function phaseInput(plan: Plan, inventory: Inventory): PhaseInput {
  return {
    version: 1,
    phase: plan.id,
    title: plan.title,
    settings: { thresholds: plan.thresholds, timings: plan.timings, watchLinks: plan.watchLinks },
    weeks: plan.weeks.map((w) => ({
      id: w.id,
      title: w.title,
      gate: { criteria: w.gate.criteria },
      steps: w.steps.map((s) => ({
        id: s.id,
        ...(s.title ? { title: s.title } : {}),
        ...(s.operation ? { operation: s.operation } : {}),
        ...(s.observe ? { observe: s.observe } : {}),
        ...(s.validate ? { validate: validationInput(s.validate, inventory, `${plan.id}/${w.id}/${s.id}`, { phase: plan.id, week: w.id }) } : {}),
        ...(s.migrate
          ? {
              migrate: {
                change: s.migrate.change,
                agents: selectAgents(inventory, s.migrate.select).map((a) => ({
                  name: a.name,
                  machine: a.machine,
                  risk: a.risk,
                  ...(a.source?.sizeKb !== undefined ? { source: { sizeKb: a.source.sizeKb } } : {}),
                  ...(a.riskOverride ? { riskOverride: a.riskOverride } : {}),
                })),
                pilots: s.migrate.pilots,
                batchSize: s.migrate.batchSize,
                maxConcurrentPerMachine: s.migrate.maxConcurrentPerMachine,
                failureBudget: s.migrate.failureBudget,
                whenAgentBusy: s.migrate.whenAgentBusy,
              },
            }
          : {}),
      })),
    })),
  };
}

export type ValidationSettings = NonNullable<PlanStep['validate']>;

/** The whole fleet as the validation accounts for it: every agent and every hub, by machine. */
export function validationFleet(inventory: Inventory): FleetMember[] {
  return [
    ...inventory.agents.map((a): FleetMember => ({ kind: 'agent', name: a.name, machine: a.machine, hub: a.hub, failoverHub: a.failoverHub })),
    ...inventory.hubs.map((h): FleetMember => ({ kind: 'hub', name: h.name, machine: h.machine })),
  ];
}

/** The validation workflow's input from a plan's validate step and the inventory. */
export function validationInput(settings: ValidationSettings, inventory: Inventory, label: string, where: { phase?: string; week?: string } = {}): ValidationInput {
  return {
    version: 1,
    label,
    ...where,
    durationMs: settings.durationMs,
    windowMs: settings.windowMs,
    fleet: validationFleet(inventory),
    heartbeats: { ...inventory.heartbeats },
    uptimeFloorPct: settings.uptimeFloorPct,
    uptimeTargetPct: settings.uptimeTargetPct,
    latenessMs: settings.latenessMs,
    maxWaitMs: settings.maxWaitMs,
    maxEventsPerRun: settings.maxEventsPerRun,
  };
}
