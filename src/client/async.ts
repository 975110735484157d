/**
 * Deadlines, cancellation and the hedged parallel fan-out the SDK uses to talk to nodes.
 */
import { AbortedError, ClientError, TimeoutError } from "./errors";

/**
 * A signal that fires when `parent` fires or after `timeoutMs` (if given), and a `dispose`
 * that clears the timer. `reason()` tells which happened, as a ClientError.
 */
export function deadline(
  what: string,
  timeoutMs: number | undefined,
  parent?: AbortSignal,
): { signal: AbortSignal; reason: () => ClientError; dispose: () => void } {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(new AbortedError(what));
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  const timer =
    timeoutMs !== undefined && Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(new TimeoutError(what, timeoutMs));
        }, timeoutMs)
      : undefined;
  timer?.unref?.();
  return {
    signal: controller.signal,
    reason: () => (timedOut ? new TimeoutError(what, timeoutMs!) : new AbortedError(what)),
    dispose: () => {
      if (timer) clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}

/** Runs `fn` under a deadline; throws TimeoutError / AbortedError when it fires first. */
export async function withDeadline<T>(
  what: string,
  timeoutMs: number | undefined,
  parent: AbortSignal | undefined,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const d = deadline(what, timeoutMs, parent);
  try {
    if (d.signal.aborted) throw d.reason();
    return await new Promise<T>((resolve, reject) => {
      d.signal.addEventListener("abort", () => reject(d.reason()), { once: true });
      fn(d.signal).then(resolve, reject);
    });
  } finally {
    d.dispose();
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How `gather` spreads its attempts over the candidates. */
export interface GatherOptions {
  /** how many successes are needed; `gather` stops (and aborts the rest) once it has them */
  needed: number;
  /**
   * "hedged": start `needed` attempts, then one more each time one fails and, every
   * `hedgeDelayMs` without enough successes, one more; "all": start every candidate at once.
   */
  mode?: "hedged" | "all";
  hedgeDelayMs?: number;
  signal?: AbortSignal;
}

export interface Gathered<C, T> {
  successes: { candidate: C; value: T }[];
  failures: { candidate: C; error: unknown }[];
  /** candidates never tried */
  untried: C[];
  /** the caller's signal's reason, when it ended the gathering (in-flight attempts are then failures) */
  aborted?: unknown;
}

/**
 * Tries `attempt` on candidates in order, in parallel, until `needed` succeed or none is left
 * to try. Each attempt gets a signal that fires when `gather` no longer needs it (enough
 * successes, or the caller's signal). Never rejects: failures are returned; when the
 * caller's signal fires, the attempts in flight are returned as failures with its reason.
 */
export function gather<C, T>(
  candidates: readonly C[],
  attempt: (candidate: C, signal: AbortSignal) => Promise<T>,
  options: GatherOptions,
): Promise<Gathered<C, T>> {
  const { needed, mode = "hedged", hedgeDelayMs = 200, signal } = options;
  if (!Number.isInteger(needed) || needed < 1) {
    throw new ClientError("INVALID_ARGUMENT", `needed must be a positive integer, got ${needed}`);
  }
  const stop = new AbortController();
  const result: Gathered<C, T> = { successes: [], failures: [], untried: [] };
  let next = 0;
  const inFlight = new Set<C>();
  let hedgeTimer: NodeJS.Timeout | undefined;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (aborted?: unknown) => {
      if (settled) return;
      settled = true;
      if (hedgeTimer) clearTimeout(hedgeTimer);
      signal?.removeEventListener("abort", onCallerAbort);
      if (aborted !== undefined) {
        result.aborted = aborted;
        for (const candidate of inFlight) result.failures.push({ candidate, error: aborted });
      }
      stop.abort(new AbortedError("a request no longer needed"));
      result.untried = candidates.slice(next);
      resolve(result);
    };
    const onCallerAbort = () => finish(signal!.reason ?? new AbortedError("gather"));
    if (signal?.aborted) return onCallerAbort();
    signal?.addEventListener("abort", onCallerAbort, { once: true });

    const done = () =>
      result.successes.length >= needed || (inFlight.size === 0 && next >= candidates.length);
    const launch = () => {
      if (settled || next >= candidates.length) return;
      const candidate = candidates[next++];
      inFlight.add(candidate);
      let promise: Promise<T>;
      try {
        promise = attempt(candidate, stop.signal);
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => {
          inFlight.delete(candidate);
          if (settled) return;
          result.successes.push({ candidate, value });
          if (done()) finish();
        },
        (error: unknown) => {
          inFlight.delete(candidate);
          if (settled) return;
          result.failures.push({ candidate, error });
          // replace the failed attempt at once, unless enough are already in flight
          if (inFlight.size + result.successes.length < needed) launch();
          if (done()) finish();
        },
      );
    };
    const hedge = () => {
      hedgeTimer = setTimeout(() => {
        if (settled) return;
        launch();
        if (next < candidates.length) hedge();
      }, hedgeDelayMs);
      hedgeTimer.unref?.();
    };

    const first = mode === "all" ? candidates.length : Math.min(needed, candidates.length);
    for (let i = 0; i < first; i++) launch();
    if (done()) return finish();
    if (mode === "hedged" && next < candidates.length) hedge();
  });
}
