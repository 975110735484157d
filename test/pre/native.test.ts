import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { availableNativeEngines, getNativeEngine, PreError, setNativeEngine } from "../../src/pre";
import {
  CurvePoint,
  GENERATOR,
  ORDER,
  POINT_U,
  addonLoadError,
  currentBackend,
  modN,
  nativeEngineForEnv,
  scalarToBytes,
  type CurveBackend,
} from "../../src/pre/curve";
import { select } from "./helpers";

type Binding = typeof import("secp256k1");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require("secp256k1/bindings.js") as Binding;
const hex = (b: Uint8Array | null): string => (b ? Buffer.from(b).toString("hex") : "null");
/** k·G, compressed, from the binding */
const scalarPoint = (k: bigint): Uint8Array => binding.publicKeyCreate(scalarToBytes(k), true);

const ADDON_PATH = path.join(__dirname, "..", "..", "native", "build", "Release", "nkms_secp256k1.node");

interface RawAddon {
  mulMany(points: Uint8Array, scalars: Uint8Array, pairs: Uint8Array): Uint8Array;
  mulGen(k: Uint8Array): Uint8Array;
  msm(points: Uint8Array, scalars: Uint8Array, g: Uint8Array | null): Uint8Array | null;
  ecdsaVerify(signature: Uint8Array, digest: Uint8Array, pk: Uint8Array): boolean;
  ecdsaVerifyMany(signatures: Uint8Array, digests: Uint8Array, pk: Uint8Array): Uint8Array;
  mulAddGEquals(point: Uint8Array, a: Uint8Array, g: Uint8Array, expected: Uint8Array): boolean;
  decompress(points: Uint8Array): Uint8Array | null;
  ecdsaSignRecoverable(digest: Uint8Array, seckey: Uint8Array): Uint8Array;
}

const hasAddon = availableNativeEngines().includes("addon");
const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
const nonZero = fc.bigInt({ min: 1n, max: ORDER - 1n });
/** scalars below 2¹²⁸ or above n − 2¹²⁸: the multi-scalar multiplication does not split them */
const short = fc.oneof(
  fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }),
  fc.bigInt({ min: ORDER - (1n << 128n), max: ORDER - 1n }),
);

/** `f` on the noble backend and on the native backend with the addon engine */
function nobleAndAddon<T>(f: (be: CurveBackend) => T): [T, T] {
  const run = (impl: Parameters<typeof select>[0]): T => {
    const restore = select(impl);
    try {
      return f(currentBackend());
    } finally {
      restore();
    }
  };
  return [
    run({ backend: "noble", label: "noble" }),
    run({ backend: "native", engine: "addon", label: "addon" }),
  ];
}

const hexOf = (p: CurvePoint): string =>
  p.isIdentity ? "identity" : Buffer.from(p.toBytes()).toString("hex");

describe("native addon (native/build/Release/nkms_secp256k1.node)", function () {
  it("is built and loaded in this repository (the native backend uses it by default)", function () {
    // NKMS_ALLOW_NO_ADDON=1 accepts a machine without a C toolchain (the binding engine then serves)
    if (process.env.NKMS_ALLOW_NO_ADDON === "1" && !hasAddon) this.skip();
    expect(hasAddon, `the addon did not load: ${addonLoadError}; run node scripts/build-native.cjs`).to.equal(
      true,
    );
    expect(availableNativeEngines()).to.deep.equal(["addon", "binding"]);
    expect(getNativeEngine()).to.equal(process.env.NKMS_PRE_NATIVE_ENGINE ?? "addon");
  });

  it("takes its engine from NKMS_PRE_NATIVE_ENGINE and fails loudly on an unusable one", function () {
    expect(nativeEngineForEnv(undefined)).to.equal(hasAddon ? "addon" : "binding");
    expect(nativeEngineForEnv("auto")).to.equal(hasAddon ? "addon" : "binding");
    expect(nativeEngineForEnv("binding")).to.equal("binding");
    expect(() => nativeEngineForEnv("wasm"))
      .to.throw(PreError)
      .with.property("code", "BACKEND_UNAVAILABLE");
    expect(() => setNativeEngine("wasm" as never))
      .to.throw(PreError)
      .with.property("code", "BACKEND_UNAVAILABLE");
  });

  describe("agrees with noble", function () {
    before(function () {
      if (!hasAddon) this.skip();
    });

    it("on constant-time products, several per call (U, repeated points and scalars, 0, identity)", function () {
      fc.assert(
        fc.property(nonZero, scalar, nonZero, (k, a, b) => {
          const [noble, addon] = nobleAndAddon((be) => {
            const P = be.mulBase(k);
            const Q = be.mulBase(modN(k + 1n));
            const points = [P, Q, POINT_U, CurvePoint.IDENTITY, GENERATOR];
            const scalars = [a, b, 0n, 1n, ORDER - 1n, 2n];
            const pairs: [number, number][] = [];
            for (let i = 0; i < points.length; i++)
              for (let j = 0; j < scalars.length; j++) pairs.push([i, j]);
            return [
              P,
              ...be.mulMany(points, scalars, pairs),
              be.mul(P, a),
              be.mul(POINT_U, b),
              be.mulBase(a),
            ].map(hexOf);
          });
          expect(addon).to.deep.equal(noble);
        }),
        { numRuns: 10 },
      );
    });

    it("on multi-scalar multiplications, Strauss and Pippenger sized, with short and negated scalars", function () {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(nonZero, fc.oneof(scalar, short)), { minLength: 1, maxLength: 100 }),
          scalar,
          (terms, g) => {
            const [noble, addon] = nobleAndAddon((be) => {
              const points = terms.map(([k]) => be.mulBase(k));
              const scalars = terms.map(([, s]) => s);
              // at least 64 points: the Pippenger variant in the addon
              const big = Array.from({ length: 70 }, (_, i) => i % points.length);
              return [
                be.msmPublic([...points, GENERATOR, POINT_U], [...scalars, g, g]),
                be.msmPublic(
                  big.map((i) => points[i]),
                  big.map((i) => scalars[i]),
                ),
                be.msmPublic(points, scalars),
                be.mulAddPublic(points[0], scalars[0], POINT_U, g),
                be.mulPublic(points[0], g),
              ].map(hexOf);
            });
            expect(addon).to.deep.equal(noble);
          },
        ),
        { numRuns: 8 },
      );
    });

    it("reaches the identity: P + (−P) in sums of 2 and of 100 terms, 0·G, n−k and k", function () {
      fc.assert(
        fc.property(nonZero, nonZero, (k, s) => {
          const [noble, addon] = nobleAndAddon((be) => {
            const P = be.mulBase(k);
            const minusP = be.mulBase(modN(-k));
            const many = Array.from({ length: 50 }, (_, i) => be.mulBase(modN(k + BigInt(i))));
            return [
              be.msmPublic([P, minusP], [s, s]),
              be.msmPublic([...many, ...many], [...many.map(() => s), ...many.map(() => modN(-s))]),
              be.msmPublic([GENERATOR, P], [modN(-k), 1n]),
              be.msmPublic([GENERATOR], [0n]),
              be.mulAddPublic(GENERATOR, k, GENERATOR, ORDER - k),
            ].map(hexOf);
          });
          expect(addon).to.deep.equal(noble);
          expect(addon.every((h) => h === "identity")).to.equal(true);
        }),
        { numRuns: 5 },
      );
    });

    it("on a·P + g·G (mulAddPublic) and its equality test, either side, with 0 scalars and identity", function () {
      fc.assert(
        fc.property(nonZero, scalar, scalar, (k, a, g) => {
          const [noble, addon] = nobleAndAddon((be) => {
            const P = be.mulBase(k);
            const r = be.mulAddPublic(GENERATOR, g, P, a);
            const minusR = r.isIdentity ? r : be.mulPublic(r, ORDER - 1n);
            return [
              r,
              be.mulAddPublic(P, a, GENERATOR, g),
              be.mulAddPublic(GENERATOR, 0n, P, a),
              be.mulAddPublic(P, a, GENERATOR, 0n),
              be.mulAddPublic(GENERATOR, g, CurvePoint.IDENTITY, a),
              // k·G − 1·(k·G): the identity
              be.mulAddPublic(GENERATOR, k, P, ORDER - 1n),
              be.mulAddPublic(P, ORDER - 1n, GENERATOR, k),
            ]
              .map(hexOf)
              .concat(
                [
                  be.mulAddEqualsPublic(GENERATOR, g, P, a, r),
                  be.mulAddEqualsPublic(P, a, GENERATOR, g, r),
                  // same x, other y: the Jacobian comparison must see the sign
                  be.mulAddEqualsPublic(GENERATOR, g, P, a, minusR),
                  be.mulAddEqualsPublic(GENERATOR, g, P, a, P),
                  be.mulAddEqualsPublic(GENERATOR, k, P, ORDER - 1n, CurvePoint.IDENTITY),
                  be.mulAddEqualsPublic(GENERATOR, k, P, ORDER - 1n, P),
                ].map(String),
              );
          });
          expect(addon).to.deep.equal(noble);
          const [same, swapped, negated, , toIdentity, notIdentity] = addon.slice(-6);
          expect([same, swapped, negated, toIdentity, notIdentity]).to.deep.equal([
            "true",
            "true",
            String(addon[0] === "identity"),
            "true",
            "false",
          ]);
        }),
        { numRuns: 30 },
      );
    });

    it("on decompression: the binding's publicKeyConvert, and invalid encodings refused", function () {
      fc.assert(
        fc.property(nonZero, fc.uint8Array({ minLength: 32, maxLength: 32 }), (k, x) => {
          const [noble, addon] = nobleAndAddon((be) => {
            const c = be.mulBase(k).toBytes();
            const neg = c.slice();
            neg[0] ^= 1;
            const random = Uint8Array.from([2, ...x]);
            return [c, neg, random].map((b) => {
              const p = be.decompress(b);
              return p ? hex(p.uncompressed()) : "invalid";
            });
          });
          expect(addon).to.deep.equal(noble);
          expect(addon[0]).to.equal(hex(binding.publicKeyConvert(scalarPoint(k), false)));
          expect(addon[1]).to.not.equal("invalid");
        }),
        { numRuns: 50 },
      );
    });

    it("on ECDSA verification, one and many signatures by one key, valid and not", function () {
      const [noble, addon] = nobleAndAddon((be) => {
        const sk = 0x1234567890abcdefn;
        const pk = be.mulBase(sk);
        const digests = Array.from({ length: 12 }, (_, i) => scalarToBytes(BigInt(i) * 0x1111111111n + 7n));
        const signatures = digests.map((d) => be.sign(d, sk));
        signatures[3] = signatures[3].slice();
        signatures[3][5] ^= 1; // wrong r
        digests[5] = digests[5].slice();
        digests[5][0] ^= 1; // wrong message
        const high = signatures[7].slice(); // s → n − s: high s is rejected
        high.set(scalarToBytes(ORDER - BigInt("0x" + Buffer.from(high.subarray(32)).toString("hex"))), 32);
        signatures[7] = high;
        signatures[9] = new Uint8Array(64); // r = s = 0
        return [
          be.verifyMany(signatures, digests, pk),
          signatures.map((sig, i) => be.verify(sig, digests[i], pk)),
          be.verifyMany(signatures, digests, be.mulBase(sk + 1n)),
        ];
      });
      expect(addon).to.deep.equal(noble);
      expect(addon[0]).to.deep.equal(addon[1]);
      expect(addon[0].map(Number).join("")).to.equal("111010101011");
      expect(addon[2].some(Boolean)).to.equal(false);
    });
  });

  describe("rejects bad input at the boundary", function () {
    let raw: RawAddon;
    before(function () {
      if (!hasAddon) this.skip();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      raw = require(ADDON_PATH) as RawAddon;
    });
    const k = scalarToBytes(12345n);
    const u = () => POINT_U.uncompressed();
    const g = () => GENERATOR.uncompressed();

    it("points off the curve, with x or y ≥ p, or without the 04 prefix", function () {
      const offCurve = g().slice();
      offCurve[64] ^= 1;
      const badPrefix = g().slice();
      badPrefix[0] = 2;
      const xTooBig = g().slice();
      xTooBig.fill(0xff, 1, 33);
      for (const bad of [offCurve, badPrefix, xTooBig]) {
        expect(() => raw.mulMany(bad, k, new Uint8Array([0, 0]))).to.throw(TypeError);
        expect(() => raw.msm(bad, k, null)).to.throw(TypeError);
        expect(raw.ecdsaVerify(new Uint8Array(64).fill(1), k, bad)).to.equal(false);
        expect(
          Array.from(raw.ecdsaVerifyMany(new Uint8Array(128).fill(1), new Uint8Array(64), bad)),
        ).to.deep.equal([0, 0]);
      }
    });

    it("scalars 0 (secret products) and ≥ n, bad lengths and indices", function () {
      const n = scalarToBytes(ORDER - 1n);
      n[31] += 1; // n itself
      expect(() => raw.mulMany(u(), new Uint8Array(32), new Uint8Array([0, 0]))).to.throw(TypeError);
      expect(() => raw.mulMany(u(), n, new Uint8Array([0, 0]))).to.throw(TypeError);
      expect(() => raw.mulGen(new Uint8Array(32))).to.throw(TypeError);
      expect(() => raw.mulGen(n)).to.throw(TypeError);
      expect(() => raw.msm(u(), n, null)).to.throw(TypeError);
      expect(() => raw.msm(u(), k, n)).to.throw(TypeError);
      expect(() => raw.mulMany(u(), k, new Uint8Array([1, 0]))).to.throw(TypeError);
      expect(() => raw.mulMany(u(), k, new Uint8Array([0, 1]))).to.throw(TypeError);
      expect(() => raw.mulMany(u().subarray(1), k, new Uint8Array([0, 0]))).to.throw(TypeError);
      expect(() => raw.msm(u(), new Uint8Array(64), null)).to.throw(TypeError);
      expect(() => raw.mulGen("00" as never)).to.throw(TypeError);
      // 0 is a valid public scalar: 0·U is the identity (null)
      expect(raw.msm(u(), new Uint8Array(32), null)).to.equal(null);
      expect(raw.msm(new Uint8Array(0), new Uint8Array(0), null)).to.equal(null);
    });

    it("mulAddGEquals: libsecp256k1's results, the identity, bad input", function () {
      const n = scalarToBytes(ORDER - 1n);
      n[31] += 1;
      const zero = new Uint8Array(32);
      fc.assert(
        fc.property(nonZero, nonZero, (a, b) => {
          // a·U + b·G against the binding's tweakMul and tweakAdd
          const expected = binding.publicKeyTweakAdd(
            binding.publicKeyTweakMul(u(), scalarToBytes(a), false),
            scalarToBytes(b),
            false,
          );
          expect(raw.mulAddGEquals(u(), scalarToBytes(a), scalarToBytes(b), expected)).to.equal(true);
          const minus = binding.publicKeyNegate(expected, false);
          expect(raw.mulAddGEquals(u(), scalarToBytes(a), scalarToBytes(b), minus)).to.equal(false);
          expect(raw.mulAddGEquals(u(), scalarToBytes(a), scalarToBytes(modN(b + 1n)), expected)).to.equal(
            false,
          );
        }),
        { numRuns: 30 },
      );
      expect(raw.mulAddGEquals(u(), zero, k, binding.publicKeyCreate(k, false))).to.equal(true);
      expect(raw.mulAddGEquals(g(), scalarToBytes(ORDER - 1n), scalarToBytes(1n), g())).to.equal(false);
      const offCurve = g().slice();
      offCurve[64] ^= 1;
      for (const f of [
        () => raw.mulAddGEquals(g(), k, n, g()),
        () => raw.mulAddGEquals(g().subarray(1), k, k, g()),
        () => raw.mulAddGEquals(g(), k.subarray(1), k, g()),
        () => raw.mulAddGEquals(g(), k, "00" as never, g()),
        () => raw.mulAddGEquals(g(), k, k, offCurve),
        () => raw.mulAddGEquals(offCurve, k, k, g()),
        () => raw.mulAddGEquals(g(), n, k, g()),
        () => raw.mulAddGEquals(g(), k, k, g().subarray(1)),
      ])
        expect(f).to.throw(TypeError);
    });

    it("decompress: one or several points, null when any is invalid, TypeError on bad length", function () {
      const two = new Uint8Array(66);
      two.set(GENERATOR.toBytes(), 0);
      two.set(POINT_U.toBytes(), 33);
      expect(hex(raw.decompress(two))).to.equal(hex(g()) + hex(u()));
      const p = binding.publicKeyCreate(k, true);
      expect(hex(raw.decompress(p))).to.equal(hex(binding.publicKeyConvert(p, false)));
      // x = 0 is not on secp256k1 (y² = 7 has no root mod p), x ≥ p is refused, prefixes other than 02 and 03
      const x0 = new Uint8Array(33);
      x0[0] = 2;
      const xp = new Uint8Array(33).fill(0xff);
      xp[0] = 3;
      const prefix4 = GENERATOR.toBytes().slice();
      prefix4[0] = 4;
      for (const bad of [x0, xp, prefix4]) {
        expect(raw.decompress(bad)).to.equal(null);
        const mixed = new Uint8Array(66);
        mixed.set(GENERATOR.toBytes(), 0);
        mixed.set(bad, 33);
        expect(raw.decompress(mixed)).to.equal(null);
        expect(() => binding.publicKeyConvert(bad, false)).to.throw();
      }
      for (const bad of [new Uint8Array(0), new Uint8Array(32), new Uint8Array(65), "02" as never])
        expect(() => raw.decompress(bad)).to.throw(TypeError);
    });

    it("ecdsaSignRecoverable: the binding's ecdsaSign byte for byte, recoverable, low s; bad keys refused", function () {
      const half = ORDER >> 1n;
      const check = (sk: Uint8Array, digest: Uint8Array) => {
        const sig = raw.ecdsaSignRecoverable(digest, sk);
        const ref = binding.ecdsaSign(digest, sk);
        expect(sig.length).to.equal(65);
        expect(hex(sig.subarray(0, 64))).to.equal(hex(ref.signature));
        expect(sig[64]).to.equal(ref.recid);
        expect(BigInt("0x" + hex(sig.subarray(32, 64))) <= half).to.equal(true);
        const pk = binding.ecdsaRecover(sig.subarray(0, 64), sig[64], digest, false);
        expect(hex(pk)).to.equal(hex(binding.publicKeyCreate(sk, false)));
        expect(raw.ecdsaVerify(sig.subarray(0, 64), digest, pk)).to.equal(true);
      };
      fc.assert(
        fc.property(nonZero, fc.uint8Array({ minLength: 32, maxLength: 32 }), (sk, digest) =>
          check(scalarToBytes(sk), digest),
        ),
        { numRuns: 300 },
      );
      // after a new blinding of the G comb the signatures are still the same
      const before = raw.ecdsaSignRecoverable(k, k);
      (raw as unknown as { randomize(seed: Uint8Array): void }).randomize(new Uint8Array(32).fill(5));
      expect(hex(raw.ecdsaSignRecoverable(k, k))).to.equal(hex(before));
      for (const sk of [1n, 2n, ORDER - 1n, half, half + 1n])
        for (const d of [0n, 1n, ORDER - 1n, ORDER, (1n << 256n) - 1n])
          check(scalarToBytes(sk), scalarToBytes(d));
      const n = scalarToBytes(ORDER - 1n);
      n[31] += 1;
      for (const bad of [new Uint8Array(32), n, new Uint8Array(32).fill(0xff), new Uint8Array(31).fill(1)])
        expect(() => raw.ecdsaSignRecoverable(k, bad)).to.throw(TypeError);
      for (const f of [
        () => raw.ecdsaSignRecoverable(k.subarray(1), k),
        () => raw.ecdsaSignRecoverable(new Uint8Array(33), k),
        () => raw.ecdsaSignRecoverable("00" as never, k),
        () => raw.ecdsaSignRecoverable(k, [1, 2] as never),
      ])
        expect(f).to.throw(TypeError);
    });
  });
});
