import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { newKeyPair, signDecision } from '../../cli/sign';
import { deploymentSchema } from '../../config/schema/deployment';
import { inventorySchema } from '../../config/schema/inventory';
import { planSchema } from '../../config/schema/plan';
import { autoApprovalProblem } from '../../config/schema/workflow-inputs';
import { phaseInput } from '../../plan/compile';
import { decisionProblem, signatureFreshMs, type DecisionRule, type DecisionSignature, type SignedDecision } from '../../decisions/signatures';

const dir = mkdtempSync(path.join(os.tmpdir(), 'phasegate-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const alice = newKeyPair('alice', path.join(dir, 'alice.key'));
const bob = newKeyPair('bob', path.join(dir, 'bob.key'));
const mallory = newKeyPair('mallory', path.join(dir, 'mallory.key'));
const now = Date.parse('2026-12-04T12:00:00Z');
const go: SignedDecision = { workflowId: 'phase.p1.week1', subject: 'p1.week1.gate', decision: 'go', by: 'alice', reason: 'pilots clean' };
const sign = (who: string, d: SignedDecision, at = now) => signDecision(path.join(dir, `${who}.key`), d, new Date(at));
const rule: DecisionRule = { signers: [alice, bob], unsigned: false };

describe('who may decide, provably (decisions/signatures.ts decisionProblem)', () => {
  const cases: Array<[string, DecisionRule | undefined, SignedDecision, DecisionSignature | undefined, RegExp | null]> = [
    ['a plan that names nobody: anyone, unsigned', undefined, { ...go, by: 'anyone' }, undefined, null],
    ["alice's own signature over this decision", rule, go, sign('alice', go), null],
    ["bob's, over his own decision", rule, { ...go, by: 'bob' }, sign('bob', { ...go, by: 'bob' }), null],
    ['a person not on the list, even signed with their own key', rule, { ...go, by: 'mallory' }, sign('mallory', { ...go, by: 'mallory' }), /"mallory" may not decide this; the plan names alice, bob/],
    ['unsigned where the plan takes only signed decisions', rule, go, undefined, /unsigned: this plan takes only signed decisions \(sign with --key, the key file of alice\)/],
    ['unsigned where the plan allows it (the demo): names still checked', { ...rule, unsigned: true }, go, undefined, null],
    ['unsigned where allowed, by someone not on the list', { ...rule, unsigned: true }, { ...go, by: 'mallory' }, undefined, /"mallory" may not decide this/],
    ["forged: alice's name, mallory's key", rule, go, sign('mallory', go), /the signature is not alice's over this decision/],
    ['a signature over another decision (go signed, rollback-week sent)', rule, { ...go, decision: 'rollback-week' }, sign('alice', go), /not alice's over this decision/],
    ['a signature over another reason', rule, { ...go, reason: 'looks fine to me' }, sign('alice', go), /not alice's over this decision/],
    ["a signature for another week's gate, replayed here", rule, go, sign('alice', { ...go, workflowId: 'phase.p1.week2', subject: 'p1.week2.gate' }), /not alice's over this decision/],
    ['a stale signature (older than the window)', rule, go, sign('alice', go, now - signatureFreshMs - 1000), /more than 10 minutes from now: sign again/],
    ['a signature with its time altered', rule, go, { ...sign('alice', go, now - 60_000), signedAt: new Date(now).toISOString() }, /not alice's over this decision/],
    ['a malformed signature value', rule, go, { signedAt: new Date(now).toISOString(), value: 'zz' }, /"signature.value" must be 64 bytes in hex/],
    ['a signature time that is not a time', rule, go, { signedAt: 'yesterday', value: '00'.repeat(64) }, /"signature.signedAt" is not a time/],
  ];
  for (const [name, r, d, sig, want] of cases) {
    it(name, () => {
      const problem = decisionProblem(r, d, sig, now);
      if (want === null) assert.equal(problem, null);
      else assert.match(problem ?? '(accepted)', want);
    });
  }
});

describe('keys and signing from the CLI (cli/sign.ts)', () => {
  it('a new private key is readable by its owner only, and never overwritten', () => {
    assert.equal(statSync(path.join(dir, 'alice.key')).mode & 0o777, 0o600);
    assert.match(alice.publicKey, /^[0-9a-f]{64}$/);
    assert.throws(() => newKeyPair('alice', path.join(dir, 'alice.key')), /alice\.key: it exists \(a key is never overwritten/);
  });
  it('a key file that is not an Ed25519 private key is refused, naming the file', () => {
    const rsa = path.join(dir, 'rsa.key');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    assert.throws(() => signDecision(rsa, go), /--key .*rsa\.key: a rsa key; decisions are signed with Ed25519/);
    const junk = path.join(dir, 'junk.key');
    writeFileSync(junk, 'not a key');
    assert.throws(() => signDecision(junk, go), /--key .*junk\.key: not a private key in PEM/);
    assert.throws(() => signDecision(path.join(dir, 'missing.key'), go), /--key .*missing\.key: cannot read it \(ENOENT\)/);
  });
});

describe("the deployment's people (config/schema/deployment.ts)", () => {
  const base = { controlTaskQueue: 'q', inventory: 'inventory.json', catalogues: {} };
  it('a public key that is not 32 bytes of hex is refused, naming the field', () => {
    const r = deploymentSchema.safeParse({ ...base, people: [{ name: 'alice', publicKey: 'abc' }] });
    assert.equal(r.success, false);
    const issue = r.error!.issues.find((i) => i.path.join('.') === 'people.0.publicKey');
    assert.match(issue?.message ?? JSON.stringify(r.error!.issues), /64 hex characters/);
  });
  it('a person listed twice is refused', () => {
    const r = deploymentSchema.safeParse({ ...base, people: [alice, alice] });
    assert.equal(r.success, false);
    assert.ok(r.error!.issues.some((i) => i.path.join('.') === 'people.1.name' && /listed twice/.test(i.message)), JSON.stringify(r.error!.issues));
  });
});

describe('a plan naming deciders the deployment does not know (config/load.ts loadPlan)', () => {
  it('is refused with the file, the field and the reason, before anything runs', async () => {
    const { loadConfig, loadPlan } = await import('../../config/load');
    const config = loadConfig(path.join(__dirname, '../../../config/defaults'));
    const file = path.join(dir, 'plan-with-deciders.json');
    writeFileSync(
      file,
      JSON.stringify({ version: 1, id: 'p', title: 'p', decisions: { stageApprovers: ['zoe'] }, weeks: [{ id: 'w1', title: 'w', steps: [{ id: 's', observe: { durationMs: 1000 } }], gate: { deciders: ['alice'] } }] }),
    );
    assert.throws(
      () => loadPlan(file, { ...config, deployment: { ...config.deployment, people: [alice] } }),
      (err: Error) => err.message.includes('plan-with-deciders.json') && /decisions\.stageApprovers\[0\]: "zoe" is not among the deployment's people/.test(err.message) && !/gate\.deciders/.test(err.message),
    );
    assert.throws(() => loadPlan(file, config), (err: Error) => /weeks\[0\]\.gate\.deciders\[0\]: "alice" is not among the deployment's people \(deployment.json "people", which lists nobody\)/.test(err.message));
  });
});

describe('signed by default (plan/compile.ts phaseInput): who decides a plan that names nobody', () => {
  const people = [alice, bob];
  const plan = (decisions: object | undefined, gate: object = {}) =>
    planSchema.parse({ version: 1, id: 'p', title: 'p', ...(decisions ? { decisions } : {}), weeks: [{ id: 'w1', title: 'w', steps: [{ id: 's', observe: { durationMs: 1000 } }], gate }] });
  const inventory = inventorySchema.parse(JSON.parse(readFileSync(path.join(__dirname, '../../../config/defaults/inventory.json'), 'utf8')));
  const cases: Array<[string, object | undefined, object, string[] | undefined, string[] | undefined]> = [
    // name, plan.decisions, gate, gate deciders resolved, stage approvers resolved
    ['nothing said: every person, signed', undefined, {}, ['alice', 'bob'], ['alice', 'bob']],
    ['unsigned: false said: the same', { unsigned: false }, {}, ['alice', 'bob'], ['alice', 'bob']],
    ['the gate names bob: bob only; stages every person', undefined, { deciders: ['bob'] }, ['bob'], ['alice', 'bob']],
    ['stage approvers named: those', { stageApprovers: ['alice'] }, {}, ['alice', 'bob'], ['alice']],
    ['unsigned: anyone, where nobody is named', { unsigned: true }, {}, undefined, undefined],
    ['unsigned with named deciders: names only, of those', { unsigned: true }, { deciders: ['alice'] }, ['alice'], undefined],
  ];
  for (const [name, decisions, gate, deciders, approvers] of cases) {
    it(name, () => {
      const input = phaseInput(plan(decisions, gate), inventory, { people });
      assert.deepEqual(input.weeks[0]!.gate.deciders?.map((d) => d.name), deciders);
      assert.deepEqual(input.settings.decisions?.stageApprovers?.map((d) => d.name), approvers);
      assert.equal(input.settings.decisions?.unsigned, (decisions as { unsigned?: boolean } | undefined)?.unsigned ?? false);
    });
  }

  it('a signed plan with nobody to sign is refused by name of the field, and an unsigned one is not', () => {
    assert.throws(() => phaseInput(plan(undefined), inventory, { people: [] }), /takes only signed decisions .* lists nobody who could sign them/);
    assert.equal(phaseInput(plan({ unsigned: true }), inventory).weeks.length, 1);
  });

  it('an input that approves every gate unsigned (autoApproveGates) is refused unless the plan allows unsigned decisions', () => {
    const signed = { ...phaseInput(plan(undefined), inventory, { people }), autoApproveGates: { by: 'someone' } };
    assert.match(autoApprovalProblem(signed) ?? '', /autoApproveGates: approves every gate unsigned, but settings.decisions.unsigned is not true/);
    assert.equal(autoApprovalProblem({ ...phaseInput(plan({ unsigned: true }), inventory), autoApproveGates: { by: 'someone' } }), null);
    assert.equal(autoApprovalProblem(phaseInput(plan(undefined), inventory, { people })), null);
  });
});
