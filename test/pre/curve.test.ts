import { expect } from "chai";
import fc from "fast-check";
import { availableBackends, getBackend, setBackend, PreError } from "../../src/pre";
import {
  CurvePoint,
  GENERATOR,
  ORDER,
  POINT_U,
  backendForEnv,
  currentBackend,
  invertScalar,
  invertScalars,
  modN,
  type CurveBackend,
} from "../../src/pre/curve";
import { implementations, select } from "./helpers";

/** every backend's (and native engine's) result for `f`, as compressed bytes (or "identity") */
function onEveryBackend(f: (b: CurveBackend) => CurvePoint): string[] {
  return implementations().map((impl) => {
    const restore = select(impl);
    try {
      const p = f(currentBackend());
      return p.isIdentity ? "identity" : Buffer.from(p.toBytes()).toString("hex");
    } finally {
      restore();
    }
  });
}

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
const nonZero = fc.bigInt({ min: 1n, max: ORDER - 1n });

describe("curve backends", function () {
  it("loads the native libsecp256k1 binding on Linux x64 (not the package's JavaScript fallback)", function () {
    if (process.platform !== "linux" || process.arch !== "x64") this.skip();
    expect(availableBackends()).to.include("native");
    expect(getBackend()).to.equal(process.env.NKMS_PRE_BACKEND ?? "native");
  });

  it("takes its initial backend from NKMS_PRE_BACKEND and fails loudly on an unusable one", function () {
    for (const name of availableBackends()) expect(backendForEnv(name)).to.equal(name);
    const auto = availableBackends().includes("native") ? "native" : "noble";
    expect(backendForEnv(undefined)).to.equal(auto);
    expect(backendForEnv("auto")).to.equal(auto);
    expect(() => backendForEnv("wasm"))
      .to.throw(PreError)
      .with.property("code", "BACKEND_UNAVAILABLE");
  });

  it("refuses an unknown backend with a typed error", function () {
    expect(() => setBackend("wasm" as never))
      .to.throw(PreError)
      .with.property("code", "BACKEND_UNAVAILABLE");
  });

  it("agree on generator and variable-base products, sums and linear combinations", function () {
    fc.assert(
      fc.property(scalar, scalar, nonZero, (a, b, k) => {
        const p = onEveryBackend((be) => be.mulBase(k));
        expect(new Set(p).size).to.equal(1);
        const P = CurvePoint.fromBytes(Buffer.from(p[0], "hex"));
        for (const results of [
          onEveryBackend((be) => be.mulBase(a)),
          onEveryBackend((be) => be.mul(P, a)),
          onEveryBackend((be) => be.mulPublic(P, a)),
          onEveryBackend((be) => be.mul(POINT_U, b)),
          onEveryBackend((be) => be.add(be.mulBase(a), P)),
          onEveryBackend((be) => be.mulAddPublic(P, a, POINT_U, b)),
          onEveryBackend((be) => be.mulAddPublic(GENERATOR, a, P, b)),
          onEveryBackend((be) => be.mulAddPublic(GENERATOR, a, P, 0n)),
          onEveryBackend((be) => be.msmPublic([P, POINT_U, GENERATOR], [a, b, k])),
        ]) {
          expect(new Set(results).size, results.join(" ")).to.equal(1);
        }
      }),
      { numRuns: 10 },
    );
  });

  it("represent the identity: P + (−P), 0·P, identity operands, and double P + P correctly", function () {
    fc.assert(
      fc.property(nonZero, (k) => {
        for (const impl of implementations()) {
          const restore = select(impl);
          try {
            const be = currentBackend();
            const P = be.mulBase(k);
            const minusP = be.mulBase(modN(-k));
            expect(be.add(P, minusP).isIdentity).to.equal(true);
            expect(be.mul(P, 0n).isIdentity).to.equal(true);
            expect(be.mulPublic(P, 0n).isIdentity).to.equal(true);
            expect(be.mulPublic(P, k).equals(be.mul(P, k))).to.equal(true);
            expect(be.mulBase(0n).isIdentity).to.equal(true);
            expect(be.add(CurvePoint.IDENTITY, P).equals(P)).to.equal(true);
            expect(be.add(P, CurvePoint.IDENTITY).equals(P)).to.equal(true);
            expect(be.add(P, P).equals(be.mulBase(modN(2n * k)))).to.equal(true);
            expect(be.mul(CurvePoint.IDENTITY, k).isIdentity).to.equal(true);
            expect(be.mulAddPublic(P, 1n, minusP, 1n).isIdentity).to.equal(true);
            expect(be.mulAddPublic(GENERATOR, k, GENERATOR, ORDER - k).isIdentity).to.equal(true);
            expect(be.msmPublic([P, P], [k, modN(-k)]).isIdentity).to.equal(true);
          } finally {
            restore();
          }
        }
      }),
      { numRuns: 10 },
    );
  });

  it("refuses to serialize the identity and to invert zero", function () {
    expect(() => CurvePoint.IDENTITY.toBytes())
      .to.throw(PreError)
      .with.property("code", "INVALID_POINT");
    expect(() => invertScalar(0n)).to.throw(PreError);
    expect(() => invertScalars([1n, 0n])).to.throw(PreError);
  });

  it("inverts scalars, one at a time and batched", function () {
    fc.assert(
      fc.property(fc.array(nonZero, { minLength: 1, maxLength: 6 }), (xs) => {
        const inv = invertScalars(xs);
        xs.forEach((x, i) => {
          expect(modN(x * inv[i])).to.equal(1n);
          expect(invertScalar(x)).to.equal(inv[i]);
        });
      }),
      { numRuns: 30 },
    );
  });
});
