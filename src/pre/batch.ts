/**
 * Batch verification of many cfrags of one capsule (what a receiver collects from the
 * proxies of a grant). The 3·k proof equations zᵢ·X − hᵢ·x1ᵢ − x2ᵢ = 0 (X ∈ {E, V, U}) are
 * folded into one multi-scalar multiplication with independent random 128-bit weights, so a
 * batch holding any wrong cfrag passes with probability at most about 2⁻¹²⁸. When the folded
 * check fails, every cfrag is checked on its own and the error names the first bad one.
 */
import { bytesToNumberBE } from "@noble/curves/utils.js";
import type { Capsule } from "./capsule";
import { type CapsuleFrag, type VerifiedCapsuleFrag } from "./cfrag";
import { POINT_U, currentBackend, modN, secureRandomBytes, type CurvePoint } from "./curve";
import { PreError } from "./errors";
import { sha256 } from "./hash";
import type { PublicKey } from "./keys";
import { kfragSignatureMessage } from "./kfrag";

export class BatchVerificationError extends PreError {
  constructor(
    /** position of the first bad cfrag in the input */
    readonly index: number,
    override readonly cause: PreError,
  ) {
    super(cause.code, `cfrag ${index}: ${cause.message}`);
  }
}

function randomWeight(): bigint {
  return bytesToNumberBE(secureRandomBytes(16)) | 1n;
}

/**
 * Verifies all `cfrags` of `capsule` for one grant at once; returns them verified, in order.
 * Throws a BatchVerificationError (a PreError with the bad cfrag's index) if any is bad.
 */
export function verifyCapsuleFrags(
  capsule: Capsule,
  cfrags: readonly CapsuleFrag[],
  verifyingPk: PublicKey,
  delegatingPk: PublicKey,
  receivingPk: PublicKey,
): VerifiedCapsuleFrag[] {
  const oneByOne = (): VerifiedCapsuleFrag[] =>
    cfrags.map((c, i) => {
      try {
        return c.verify(capsule, verifyingPk, delegatingPk, receivingPk);
      } catch (e) {
        throw e instanceof PreError ? new BatchVerificationError(i, e) : e;
      }
    });

  if (cfrags.length < 2) return oneByOne();
  // every owner signature in the batch is checked against the same verifying key, which
  // lets the backend build a table for that key once
  const backend = currentBackend();
  const signaturesValid = backend.verifyMany(
    cfrags.map((c) => c.kfragSignature.toBytes()),
    cfrags.map((c) => sha256(kfragSignatureMessage(c.kfragId, c.u1, c.precursor, delegatingPk, receivingPk))),
    verifyingPk.point,
  );
  if (!signaturesValid.every(Boolean)) return oneByOne();

  const points: CurvePoint[] = [capsule.e, capsule.v, POINT_U];
  const scalars: bigint[] = [0n, 0n, 0n];
  for (const c of cfrags) {
    const h = c.challenge(capsule);
    const terms: [CurvePoint, CurvePoint][] = [
      [c.e1, c.e2],
      [c.v1, c.v2],
      [c.u1, c.u2],
    ];
    for (const [k, [x1, x2]] of terms.entries()) {
      const w = randomWeight();
      scalars[k] = modN(scalars[k] + w * c.z);
      points.push(x1, x2);
      scalars.push(modN(-w * h), modN(-w));
    }
  }
  if (backend.msmPublic(points, scalars).isIdentity) return cfrags.map((c) => c.skipVerification());
  return oneByOne();
}
