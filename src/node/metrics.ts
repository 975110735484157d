/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and
 * histograms with labels. Enough for the node's own metrics without another dependency.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k].replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
  ) {}
  abstract lines(): string[];
}

export class Counter extends Metric {
  private values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  lines(): string[] {
    return [...this.values].map(([key, value]) => `${this.name}${key} ${value}`);
  }
}

export class Gauge extends Metric {
  private values = new Map<string, number>();
  constructor(
    name: string,
    help: string,
    private readonly collect?: () => number,
  ) {
    super(name, help, "gauge");
  }
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  lines(): string[] {
    if (this.collect) this.set(this.collect());
    return [...this.values].map(([key, value]) => `${this.name}${key} ${value}`);
  }
}

export class Histogram extends Metric {
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    private readonly buckets: number[],
  ) {
    super(name, help, "histogram");
  }
  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    this.buckets.forEach((bound, i) => {
      if (value <= bound) s.counts[i]++;
    });
    s.sum += value;
    s.count++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((bound, i) =>
        out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: String(bound) })} ${s.counts[i]}`),
      );
      out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`${this.name}_sum${labelKey(s.labels)} ${s.sum}`);
      out.push(`${this.name}_count${labelKey(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private metrics: Metric[] = [];
  register<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }
  render(): string {
    return (
      this.metrics
        .map((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.lines()].join("\n"))
        .join("\n") + "\n"
    );
  }
}

const LOOP_TICK_MS = 10;

/**
 * The longest delay of the event loop (the main thread blocked: a garbage collection, a long
 * synchronous task, the process not scheduled) since the previous read, in seconds: every request
 * that arrived meanwhile waited that long. A timer every 10 ms notes how late it runs (its own
 * timer, not perf_hooks' monitorEventLoopDelay, whose reset also forgets a delay in progress).
 */
function eventLoopDelayMax(): { read: () => number; stop: () => void } {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - LOOP_TICK_MS);
    last = now;
  }, LOOP_TICK_MS);
  timer.unref();
  return {
    read: () => {
      // a delay still in progress counts too
      const ms = Math.max(max, performance.now() - last - LOOP_TICK_MS, 0);
      max = 0;
      return Math.round(ms * 1000) / 1e6; // seconds, to the microsecond
    },
    stop: () => clearInterval(timer),
  };
}

/** Error codes whose series are exported from the start, at 0, so alerts on them have a series to watch. */
const ALERTED_ERRORS = ["INTERNAL", "CHAIN_UNAVAILABLE", "CHECKPOINT_FAILED"];

/** The node's metrics. */
export function nodeMetrics(storageBytes: () => number) {
  const registry = new Registry();
  const loop = eventLoopDelayMax();
  const errors = registry.register(
    new Counter("nkms_errors_total", "refused or failed requests by error code"),
  );
  for (const code of ALERTED_ERRORS) errors.inc({ code }, 0);
  return {
    registry,
    /** stops the event-loop timer (when the node stops) */
    stop: loop.stop,
    requests: registry.register(new Counter("nkms_requests_total", "HTTP requests by endpoint and status")),
    latency: registry.register(
      new Histogram(
        "nkms_request_duration_seconds",
        "HTTP request latency by endpoint",
        [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      ),
    ),
    reencryptions: registry.register(new Counter("nkms_reencryptions_total", "capsules re-encrypted")),
    errors,
    commitments: registry.register(new Counter("nkms_commitments_total", "period commitments by result")),
    commitmentAlarm: registry.register(
      new Gauge("nkms_commitment_alarm", "1 while the last commitment attempt for the next period failed"),
    ),
    lastCommittedPeriod: registry.register(
      new Gauge("nkms_last_committed_period", "last period committed to"),
    ),
    settlements: registry.register(new Counter("nkms_settlements_total", "fee settlements by result")),
    shares: registry.register(new Gauge("nkms_shares", "policy shares held")),
    storageBytes: registry.register(new Gauge("nkms_storage_bytes", "database size in bytes", storageBytes)),
    eventLoopDelay: registry.register(
      new Gauge(
        "nkms_event_loop_delay_max_seconds",
        "longest event-loop delay since the previous scrape (the main thread blocked)",
        loop.read,
      ),
    ),
  };
}

export type NodeMetrics = ReturnType<typeof nodeMetrics>;
