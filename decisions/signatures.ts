import { ed25519 } from '@noble/curves/ed25519';

/**
 * Who may decide, provably (docs/operating.md, "Signed decisions"). A plan names who may decide
 * a gate (`gate.deciders`) and approve a critical-band stage (`decisions.stageApprovers`); their
 * Ed25519 public keys live in the deployment configuration (`people`). A decision carries the
 * person's signature over what it decides, made by the CLI with the person's key file; the
 * workflow's Update validator checks it here, before anything is written to the history, with
 * @noble/curves (pure JavaScript, audited), which runs inside the workflow sandbox.
 */

/** A person who may decide, and their public key (32 bytes, hex). */
export interface Signer {
  name: string;
  publicKey: string;
}

/** Who may decide one kind of decision, and whether the plan lets them decide unsigned (the local demo only). */
export interface DecisionRule {
  signers: Signer[];
  unsigned: boolean;
}

/** The signature a decision carries: over decisionMessage(...), made at `signedAt`. */
export interface DecisionSignature {
  signedAt: string;
  /** 64 bytes, hex. */
  value: string;
}

/** What a signature covers: the workflow, what is decided there, the decision, who, why, when. */
export interface SignedDecision {
  workflowId: string;
  /** The gate's id, or `stage N` of a migration. */
  subject: string;
  decision: string;
  by: string;
  reason?: string;
}

/** A signature older or newer than this (by the workflow's clock) is refused: it cannot be replayed later. */
export const signatureFreshMs = 10 * 60_000;

/** The exact bytes signed: one field per line, in this order, prefixed by the format's name. */
export function decisionMessage(d: SignedDecision, signedAt: string): string {
  return ['phasegate-decision-v1', d.workflowId, d.subject, d.decision, d.by, d.reason ?? '', signedAt].join('\n');
}

const hex = /^[0-9a-f]*$/i;
function bytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A public key as the deployment configuration holds it: why it is unusable, or null. */
export function publicKeyProblem(key: string): string | null {
  if (typeof key !== 'string' || key.length !== 64 || !hex.test(key)) return 'must be an Ed25519 public key: 64 hex characters (phasegate keys new prints it)';
  return null;
}

/**
 * Why a decision is refused, or null when it may be recorded: no rule means anyone may decide
 * (a plan that names nobody); otherwise the person must be on the list and, unless the plan
 * allows unsigned decisions, the signature must be theirs, over exactly this decision, and fresh.
 */
export function decisionProblem(rule: DecisionRule | undefined, d: SignedDecision, signature: DecisionSignature | undefined, nowMs: number): string | null {
  if (!rule) return null;
  const signer = rule.signers.find((s) => s.name === d.by);
  if (!signer) return `"${d.by.slice(0, 80)}" may not decide this; the plan names ${rule.signers.map((s) => s.name).join(', ') || 'nobody'}`;
  if (signature === undefined) return rule.unsigned ? null : `unsigned: this plan takes only signed decisions (sign with --key, the key file of ${signer.name})`;
  if (typeof signature !== 'object' || signature === null || typeof signature.signedAt !== 'string' || typeof signature.value !== 'string') return '"signature" must be { signedAt, value }';
  const at = Date.parse(signature.signedAt);
  if (!Number.isFinite(at)) return `"signature.signedAt" is not a time: ${signature.signedAt.slice(0, 40)}`;
  if (Math.abs(nowMs - at) > signatureFreshMs) return `the signature was made at ${signature.signedAt}, more than ${signatureFreshMs / 60_000} minutes from now: sign again`;
  if (signature.value.length !== 128 || !hex.test(signature.value)) return '"signature.value" must be 64 bytes in hex';
  let ok = false;
  try {
    ok = ed25519.verify(bytes(signature.value), new TextEncoder().encode(decisionMessage(d, signature.signedAt)), bytes(signer.publicKey));
  } catch {
    ok = false;
  }
  return ok ? null : `the signature is not ${signer.name}'s over this decision (forged, made with another key, or for another decision)`;
}

/** Why a plan that takes only signed decisions cannot run on a deployment that lists nobody to sign them (plan/compile.ts and config/load.ts). */
export function unsignablePlan(): string {
  return `this plan takes only signed decisions (it does not say "decisions": { "unsigned": true }), but deployment.json "people" lists nobody who could sign them; add each decider's public key (phasegate keys new), or allow unsigned decisions for a local demo`;
}
