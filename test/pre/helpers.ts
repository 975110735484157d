import { readFileSync } from "node:fs";
import path from "node:path";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  availableBackends,
  availableNativeEngines,
  getBackend,
  getNativeEngine,
  setBackend,
  setNativeEngine,
  type BackendName,
  type NativeEngine,
} from "../../src/pre";

export const hex = (s: string): Uint8Array => hexToBytes(s);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadVectors(name: string): any {
  return JSON.parse(
    readFileSync(path.join(__dirname, "..", "vectors", "umbral", `vectors_${name}.json`), "utf8"),
  );
}

/** a curve backend, and for `native` the engine behind it */
export interface Implementation {
  backend: BackendName;
  engine?: NativeEngine;
  label: string;
}

/** every backend that loaded, the native one once per native engine (addon, binding) */
export function implementations(): Implementation[] {
  return availableBackends().flatMap((backend): Implementation[] =>
    backend === "native"
      ? availableNativeEngines().map((engine) => ({
          backend,
          engine,
          label: `native backend, ${engine} engine`,
        }))
      : [{ backend, label: `${backend} backend` }],
  );
}

/** selects `impl`; returns a function restoring the previous selection */
export function select(impl: Implementation): () => void {
  const previous = getBackend();
  const previousEngine = getNativeEngine();
  setBackend(impl.backend);
  if (impl.engine) setNativeEngine(impl.engine);
  return () => {
    if (previousEngine) setNativeEngine(previousEngine);
    setBackend(previous);
  };
}

/** runs `body` once per curve backend (and native engine), with that one selected */
export function forEachBackend(body: (backend: BackendName) => void): void {
  for (const impl of implementations()) {
    describe(`[${impl.label}]`, function () {
      let restore: () => void;
      before(() => {
        restore = select(impl);
      });
      after(() => restore());
      body(impl.backend);
    });
  }
}

/** flips one bit of a copy */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[index] ^= 1 << bit;
  return out;
}
