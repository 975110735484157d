/** The node's self-signed TLS certificate; clients pin its SHA-256 fingerprint. */
import { X509Certificate } from "node:crypto";
import net from "node:net";
import { generate } from "selfsigned";
import { certificateFingerprint } from "../protocol/https";

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

/** A P-256 certificate for `host` (IP or DNS name, plus localhost/127.0.0.1), valid 10 years. */
export async function createCertificate(host: string): Promise<TlsMaterial> {
  const names = new Set([host, "localhost", "127.0.0.1"]);
  const altNames = [...names].map((name) =>
    net.isIP(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name },
  );
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 10);
  const pems = await generate([{ name: "commonName", value: host }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notAfterDate: notAfter,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

/** SHA-256 of the certificate's DER encoding. */
export function pemFingerprint(certPem: string): Uint8Array {
  return certificateFingerprint(new X509Certificate(certPem).raw);
}
