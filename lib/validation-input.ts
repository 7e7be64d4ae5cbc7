import type { Inventory } from '../config/schema/inventory';
import type { PlanStep } from '../config/schema/plan';
import type { FleetMember } from '../decisions/validation';
import type { ValidationInput } from '../workflows/validation';

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
