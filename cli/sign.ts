import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { decisionMessage, type DecisionSignature, type SignedDecision, type Signer } from '../decisions/signatures';
import { OperatorError } from './temporal-client';

/**
 * Signed decisions from the CLI (decisions/signatures.ts): a person's Ed25519 key pair, made
 * with `phasegate keys new`, and the signature of a gate decision or a stage approval, made with
 * the private key file given as `--key`. Node's own crypto signs; the workflow verifies.
 */

/** The 32 raw bytes of an Ed25519 public key, in hex, as the deployment's `people` hold it. */
export function publicKeyHex(key: KeyObject): string {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('hex');
}

function privateKeyFrom(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OperatorError(`--key ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new OperatorError(`--key ${file}: not a private key in PEM (${(err as Error).message}); make one with \`phasegate keys new\``);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new OperatorError(`--key ${file}: a ${key.asymmetricKeyType ?? 'unknown'} key; decisions are signed with Ed25519 (\`phasegate keys new\`)`);
  return key;
}

/** Signs what a decision decides, now, with the key in `file`. */
export function signDecision(file: string, d: SignedDecision, now = new Date()): DecisionSignature {
  const key = privateKeyFrom(file);
  const signedAt = now.toISOString();
  return { signedAt, value: sign(null, Buffer.from(decisionMessage(d, signedAt), 'utf8'), key).toString('hex') };
}

/** A new key pair: the private key written to `out` (readable by its owner only, never overwritten), the entry for the deployment's `people` returned. */
export function newKeyPair(name: string, out: string): Signer {
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    writeFileSync(out, privateKey.export({ format: 'pem', type: 'pkcs8' }), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    throw new OperatorError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists (a key is never overwritten: give another --out)' : (err as Error).message}`);
  }
  return { name, publicKey: publicKeyHex(privateKey) };
}
