/** Where `nkms node init` puts things inside a node's data directory. */
import path from "node:path";

export function nodeFiles(dataDir: string) {
  return {
    operatorKeystore: path.join(dataDir, "keys", "operator.json"),
    encryptingKeystore: path.join(dataDir, "keys", "encrypting.json"),
    tlsCert: path.join(dataDir, "tls", "cert.pem"),
    tlsKey: path.join(dataDir, "tls", "key.pem"),
  };
}
