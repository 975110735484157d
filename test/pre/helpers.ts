import { readFileSync } from "node:fs";
import path from "node:path";
import { hexToBytes } from "@noble/hashes/utils.js";
import { availableBackends, getBackend, setBackend, type BackendName } from "../../src/pre";

export const hex = (s: string): Uint8Array => hexToBytes(s);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadVectors(name: string): any {
  return JSON.parse(
    readFileSync(path.join(__dirname, "..", "vectors", "umbral", `vectors_${name}.json`), "utf8"),
  );
}

/** runs `body` once per curve backend, with that backend selected */
export function forEachBackend(body: (backend: BackendName) => void): void {
  for (const backend of availableBackends()) {
    describe(`[${backend} backend]`, function () {
      let previous: BackendName;
      before(() => {
        previous = getBackend();
        setBackend(backend);
      });
      after(() => setBackend(previous));
      body(backend);
    });
  }
}

/** flips one bit of a copy */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[index] ^= 1 << bit;
  return out;
}
