import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { computeAddress } from "ethers";
import { Secp256k1CheckHarness__factory } from "../../typechain-types";
import { FIELD_P, ORDER_N, pointWithLargeX } from "./adjudicator-helpers";

type Point = InstanceType<typeof secp256k1.Point>;
const G = secp256k1.Point.BASE;

/** Affine coordinates as the contract takes them; the identity is (0, 0). */
function xy(p: Point): [bigint, bigint] {
  if (p.is0()) return [0n, 0n];
  const { x, y } = p.toAffine();
  return [x, y];
}

const scalar = fc.bigInt({ min: 1n, max: ORDER_N - 1n });
const point = scalar.map((k) => G.multiply(k));

async function deploy() {
  const [signer] = await ethers.getSigners();
  return new Secp256k1CheckHarness__factory(signer).deploy();
}

describe("Secp256k1Check (the Adjudicator's curve checks)", () => {
  it("recognises curve points and rejects everything else", async () => {
    const lib = await loadFixture(deploy);
    await fc.assert(
      fc.asyncProperty(point, async (p) => {
        const [x, y] = xy(p);
        expect(await lib.isOnCurve(x, y)).to.equal(true);
        expect(await lib.isOnCurve(x, (y + 1n) % FIELD_P)).to.equal(false);
        expect(await lib.isOnCurve(x, FIELD_P - y)).to.equal(true); // the other root
      }),
      { numRuns: 20 },
    );
    expect(await lib.isOnCurve(0n, 0n)).to.equal(false); // the identity's (0, 0) is never a point
  });

  it("computes addresses as Ethereum does", async () => {
    const lib = await loadFixture(deploy);
    const p = G.multiply(12345n);
    const [x, y] = xy(p);
    expect(await lib.toAddress(x, y)).to.equal(computeAddress("0x" + p.toHex(false)));
  });

  it("accepts k·P as the product of P by k and rejects any other point, for random P and k", async () => {
    const lib = await loadFixture(deploy);
    await fc.assert(
      fc.asyncProperty(point, scalar, async (p, k) => {
        const [px, py] = xy(p);
        const [qx, qy] = xy(p.multiply(k));
        expect(await lib.isProduct(px, py, k, qx, qy)).to.equal(true);
        const [wx, wy] = xy(p.multiply(k).add(G));
        expect(await lib.isProduct(px, py, k, wx, wy)).to.equal(false);
        expect(await lib.isProduct(px, py, k, qx, FIELD_P - qy)).to.equal(false); // −k·P
      }),
      { numRuns: 15 },
    );
  });

  it("checks products of a point with x ≥ n through the product and k⁻¹", async () => {
    const lib = await loadFixture(deploy);
    const p = secp256k1.Point.fromBytes(pointWithLargeX());
    const [px, py] = xy(p);
    expect(px >= ORDER_N).to.equal(true);
    for (const k of [2n, 3n, 0xabcdefn]) {
      const [qx, qy] = xy(p.multiply(k));
      expect(qx < ORDER_N).to.equal(true);
      expect(await lib.isProduct(px, py, k, qx, qy)).to.equal(true);
      const [wx, wy] = xy(p.multiply(k + 1n));
      expect(await lib.isProduct(px, py, k, wx, wy)).to.equal(false);
    }
  });

  it("refuses to decide a product when both x coordinates are ≥ n", async () => {
    const lib = await loadFixture(deploy);
    const p = secp256k1.Point.fromBytes(pointWithLargeX());
    const [px, py] = xy(p);
    // (n − 1)·P = −P has the same x ≥ n
    await expect(lib.isProduct(px, py, ORDER_N - 1n, px, FIELD_P - py))
      .to.be.revertedWithCustomError(lib, "Secp256k1UncheckableProduct")
      .withArgs(px, px);
  });

  it("decides A = P + Q exactly for random points, including A = P + Q + G and A = −(P + Q)", async () => {
    const lib = await loadFixture(deploy);
    await fc.assert(
      fc.asyncProperty(point, point, async (p, q) => {
        const sum = p.add(q);
        expect(await lib.isSum(...xy(sum), ...xy(p), ...xy(q))).to.equal(true);
        expect(await lib.isSum(...xy(sum.add(G)), ...xy(p), ...xy(q))).to.equal(false);
        expect(await lib.isSum(...xy(sum.negate()), ...xy(p), ...xy(q))).to.equal(sum.negate().equals(sum));
      }),
      { numRuns: 20 },
    );
  });

  describe("degenerate sums, where x coordinates coincide", () => {
    const p = G.multiply(0x1234567n);
    const cases: [string, Point, Point, Point, boolean][] = [
      ["P + (−P) = identity", secp256k1.Point.ZERO, p, p.negate(), true],
      ["P + (−P) ≠ P", p, p, p.negate(), false],
      ["P + P = 2P", p.double(), p, p, true],
      ["P + P ≠ identity", secp256k1.Point.ZERO, p, p, false],
      ["P + P ≠ P", p, p, p, false],
      ["P + P ≠ −P", p.negate(), p, p, false],
      ["P + P ≠ 3P", p.multiply(3n), p, p, false],
      [
        "P + (−2P) = −P (the line through P and −2P is tangent at P)",
        p.negate(),
        p,
        p.double().negate(),
        true,
      ],
      ["(−2Q) + Q = −Q (tangent at the second point)", p.negate(), p.double().negate(), p, true],
      ["P + Q ≠ −P when Q ≠ −2P", p.negate(), p, G, false],
      ["P + Q ≠ −Q when P ≠ −2Q", G.negate(), p, G, false],
      ["P + Q ≠ identity when Q ≠ −P", secp256k1.Point.ZERO, p, G, false],
    ];
    for (const [name, a, left, right, expected] of cases) {
      it(`${expected ? "accepts" : "rejects"} ${name}`, async () => {
        const lib = await loadFixture(deploy);
        expect(left.add(right).equals(a)).to.equal(expected); // the model agrees
        expect(await lib.isSum(...xy(a), ...xy(left), ...xy(right))).to.equal(expected);
      });
    }
  });

  it("recovers nothing (address 0) from an r that is no point's x", async () => {
    const lib = await loadFixture(deploy);
    expect(await lib.recover(0n, 27n, 5n, 7n)).to.equal(ethers.ZeroAddress); // x = 5: no point
    const [x, y] = xy(G);
    expect(await lib.recover(0n, 27n + (y & 1n), x, x)).to.equal(computeAddress("0x" + G.toHex(false)));
  });
});
