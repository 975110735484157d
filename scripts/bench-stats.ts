/** Measurement helpers shared by the benchmark scripts. */
import { readFileSync } from "node:fs";

/**
 * CPU time (user + system, ms) a process has used so far, all threads, from /proc; with
 * `mainThread`, that of its main thread alone (the event loop: HTTP, TLS, checks, storage).
 */
export function processCpuMs(pid: number, mainThread = false): number {
  const file = mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`;
  const fields = readFileSync(file, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** The p-th percentile of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
