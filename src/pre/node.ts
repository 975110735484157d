/** Node's crypto module when present (absent in browsers): used by the native backend only */
type NodeCrypto = typeof import("node:crypto");

function load(): NodeCrypto | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("node:crypto") as NodeCrypto;
  } catch {
    return undefined;
  }
}

export const nodeCrypto: NodeCrypto | undefined = load();
