import { expect } from "chai";
import { gather, withDeadline } from "../../src/client/async";
import { AbortedError, ClientError, TimeoutError } from "../../src/client/errors";

/** An attempt that stays pending until the test settles it or gather aborts it. */
function controllable() {
  const started: string[] = [];
  /** when each attempt started (performance.now()) */
  const startedAt = new Map<string, number>();
  const aborted: string[] = [];
  const pending = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const attempt = (name: string, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started.push(name);
      startedAt.set(name, performance.now());
      let settled = false;
      const settle = () => (settled = true);
      pending.set(name, {
        resolve: (v) => (settle(), resolve(v)),
        reject: (e) => (settle(), reject(e)),
      });
      signal.addEventListener("abort", () => {
        if (settled) return;
        aborted.push(name);
        reject(new AbortedError(name));
      });
    });
  return { started, startedAt, aborted, pending, attempt };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("client: gather (parallel, hedged fan-out)", () => {
  it("starts exactly `needed` attempts, stops at `needed` successes and aborts the rest", async () => {
    const c = controllable();
    const done = gather(["a", "b", "c", "d", "e"], c.attempt, { needed: 3, hedgeDelayMs: 60_000 });
    await tick();
    expect(c.started).to.deep.equal(["a", "b", "c"]);
    c.pending.get("a")!.resolve("A");
    c.pending.get("c")!.resolve("C");
    c.pending.get("b")!.resolve("B");
    const result = await done;
    expect(result.successes.map((s) => s.value).sort()).to.deep.equal(["A", "B", "C"]);
    expect(result.untried).to.deep.equal(["d", "e"]);
    expect(c.aborted).to.deep.equal([]);
  });

  it("replaces a failed attempt at once with the next candidate", async () => {
    const c = controllable();
    const done = gather(["a", "b", "c", "d"], c.attempt, { needed: 2, hedgeDelayMs: 60_000 });
    await tick();
    c.pending.get("a")!.reject(new ClientError("TIMEOUT", "a is slow"));
    await tick();
    expect(c.started).to.deep.equal(["a", "b", "c"]);
    c.pending.get("b")!.resolve("B");
    c.pending.get("c")!.resolve("C");
    const result = await done;
    expect(result.failures.map((f) => f.candidate)).to.deep.equal(["a"]);
    expect(result.successes.map((s) => s.candidate)).to.deep.equal(["b", "c"]);
  });

  it("hedges: after the delay without enough answers it asks one more node, and uses whoever answers", async () => {
    const c = controllable();
    const hedgeDelayMs = 20;
    const done = gather(["slow", "b", "c"], c.attempt, { needed: 2, hedgeDelayMs });
    await tick();
    expect(c.started.slice(0, 2)).to.deep.equal(["slow", "b"]);
    c.pending.get("b")!.resolve("B");
    while (!c.started.includes("c")) await new Promise((resolve) => setTimeout(resolve, 2));
    // the third node is asked only once the delay has passed (a timer never fires early; 2 ms
    // for the millisecond clock's rounding), however slowly this test itself runs
    expect(c.startedAt.get("c")! - c.startedAt.get("b")!).to.be.at.least(hedgeDelayMs - 2);
    c.pending.get("c")!.resolve("C");
    const result = await done;
    expect(result.successes.map((s) => s.candidate)).to.deep.equal(["b", "c"]);
    expect(c.aborted).to.deep.equal(["slow"]);
  });

  it('"all" mode asks every candidate at once', async () => {
    const c = controllable();
    const done = gather(["a", "b", "c", "d"], c.attempt, { needed: 2, mode: "all" });
    await tick();
    expect(c.started).to.deep.equal(["a", "b", "c", "d"]);
    c.pending.get("d")!.resolve("D");
    c.pending.get("a")!.resolve("A");
    const result = await done;
    expect(result.successes.map((s) => s.candidate)).to.deep.equal(["d", "a"]);
    expect(c.aborted.sort()).to.deep.equal(["b", "c"]);
  });

  it("returns every failure when too few candidates can succeed", async () => {
    const result = await gather(
      ["a", "b", "c"],
      async (name) => {
        if (name === "b") return "B";
        throw new ClientError("NODE_MISBEHAVED", `${name} lied`);
      },
      { needed: 2 },
    );
    expect(result.successes).to.have.length(1);
    expect(result.failures.map((f) => f.candidate).sort()).to.deep.equal(["a", "c"]);
  });

  it("counts an attempt that throws synchronously as a failure", async () => {
    const result = await gather(
      ["a", "b"],
      (name) => {
        if (name === "a") throw new Error("boom");
        return Promise.resolve(name);
      },
      { needed: 1 },
    );
    expect(result.successes.map((s) => s.value)).to.deep.equal(["b"]);
    expect(result.failures).to.have.length(1);
  });

  it("on the caller's abort, ends at once and reports the attempts in flight with the reason", async () => {
    const c = controllable();
    const controller = new AbortController();
    const done = gather(["a", "b", "c"], c.attempt, {
      needed: 2,
      signal: controller.signal,
      hedgeDelayMs: 60_000,
    });
    await tick();
    c.pending.get("a")!.resolve("A");
    await tick();
    controller.abort(new AbortedError("retrieval"));
    const result = await done;
    expect(result.aborted).to.be.instanceOf(AbortedError);
    expect(result.successes.map((s) => s.candidate)).to.deep.equal(["a"]);
    expect(result.failures.map((f) => f.candidate)).to.deep.equal(["b"]);
    expect(result.untried).to.deep.equal(["c"]);
    expect(c.aborted).to.deep.equal(["b"]);
  });

  it("refuses a non-positive `needed`", () => {
    expect(() => gather(["a"], async () => 1, { needed: 0 })).to.throw(ClientError, /positive/);
  });
});

describe("client: deadlines", () => {
  it("withDeadline fails with TIMEOUT and aborts the work's signal", async () => {
    let workSignal: AbortSignal | undefined;
    const error = await withDeadline("slow work", 5, undefined, (signal) => {
      workSignal = signal;
      return new Promise(() => {});
    }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TimeoutError);
    expect((error as TimeoutError).code).to.equal("TIMEOUT");
    expect(workSignal!.aborted).to.equal(true);
  });

  it("withDeadline fails with ABORTED when the caller aborts, even before starting", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await withDeadline("work", undefined, controller.signal, async () => 1).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(AbortedError);
    expect((error as AbortedError).code).to.equal("ABORTED");
  });

  it("withDeadline returns the work's value when it finishes in time", async () => {
    expect(await withDeadline("work", 10_000, undefined, async () => 42)).to.equal(42);
  });
});
