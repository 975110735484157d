/**
 * The data commands: `nkms keys new | show | export-public`, `encrypt`, `decrypt`, `grant`,
 * `retrieve`, `revoke`, `log` and `policy status`.
 */
import type { Command } from "commander";
import { hexlify } from "ethers";
import fs from "node:fs";
import { ClientError } from "../client/errors";
import { Owner, OwnerKeys } from "../client/owner";
import { Recipient } from "../client/recipient";
import { encryptStream } from "../client/writer";
import { clientContracts } from "../client/contracts";
import { PublicKey, SecretKeyFactory, type SecretKey } from "../pre";
import { decode, encode, typeOf, type MessageType } from "../protocol/codec";
import { PolicyMap } from "../protocol/policy-map";
import {
  CliError,
  connect,
  createIdentity,
  formatNkms,
  loadSeed,
  type NetworkOptions,
  output,
  parseInteger,
  parseTokens,
  readChunks,
  RECIPIENT_KEY_LABEL,
  withNetwork,
  withProgress,
  writeChunks,
} from "./common";

const keyOption = ["--key <file>", "your identity file (from `nkms keys new`)"] as const;
const passphraseOption = [
  "--passphrase-file <file>",
  "read the identity's passphrase from a file (or NKMS_PASSPHRASE)",
] as const;

/** The identity's recipient key (what others grant to). */
function recipientSecret(seed: Uint8Array): SecretKey {
  return SecretKeyFactory.fromSecureRandomness(seed).makeKey(RECIPIENT_KEY_LABEL);
}

/** Runs `fn` as the owner of the identity `--key`, paying with the network's paying account. */
async function withOwner(
  o: NetworkOptions & { key: string; passphraseFile?: string },
  fn: (owner: Owner) => Promise<void>,
): Promise<void> {
  const seed = await loadSeed(o.key, o.passphraseFile);
  const c = connect(o);
  const owner = new Owner({ seed, network: c.network, wallet: c.wallet });
  try {
    await fn(owner);
  } finally {
    owner.close();
    c.close();
  }
}

/** The recipient's policy map; the owner's copy given in its place is named as such. */
function openPolicyMap(recipient: Recipient, file: string): ReturnType<Recipient["openPolicy"]> {
  const bytes = fs.readFileSync(file);
  if (isMessageOf(PolicyMap, bytes)) {
    throw new ClientError(
      "INVALID_DATA",
      `${file} is the owner's copy of a policy (\`nkms grant --owner-copy\`); retrieve takes the ` +
        "policy map the owner sent (`nkms grant --out`, by default policy.map)",
    );
  }
  return recipient.openPolicy(bytes);
}

/** Whether `bytes` start with the header of a `type` message (anything else, unreadable included: no). */
function isMessageOf<T>(type: MessageType<T>, bytes: Uint8Array): boolean {
  try {
    return typeOf(bytes).tag === type.tag;
  } catch {
    return false;
  }
}

function readPolicyMap(file: string): PolicyMap {
  try {
    return decode(PolicyMap, fs.readFileSync(file));
  } catch (error) {
    throw new ClientError(
      "INVALID_DATA",
      `${file} is not an owner's policy file (from \`nkms grant --owner-copy\`): ${(error as Error).message}`,
    );
  }
}

function parsePublicKey(hex: string, what: string): PublicKey {
  try {
    return PublicKey.fromCompressedBytes(Buffer.from(hex.replace(/^0x/, ""), "hex"));
  } catch {
    throw new ClientError("INVALID_ARGUMENT", `${what}: not a 33-byte compressed public key: ${hex}`);
  }
}

export function registerClientCommands(program: Command): void {
  const keys = program
    .command("keys")
    .description("create and inspect identities (a seed in a passphrase-protected keystore)");
  keys
    .command("new")
    .description("create an identity file")
    .requiredOption("--out <file>", "where to write the identity (refuses to overwrite)")
    .option(...passphraseOption)
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  NKMS_PASSPHRASE=... nkms keys new --out alice.json")
    .action(async (o) => {
      const seed = await createIdentity(o.out, o.passphraseFile);
      output(
        { identity: o.out, recipientKey: hexlify(recipientSecret(seed).publicKey().toCompressedBytes()) },
        o.json,
      );
    });
  keys
    .command("show")
    .description("show an identity's public keys (recipient key, owner verifying key, a label's key)")
    .requiredOption(...keyOption)
    .option("--label <label>", "also show this label's public key")
    .option(...passphraseOption)
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  nkms keys show --key alice.json --label reports")
    .action(async (o) => {
      const seed = await loadSeed(o.key, o.passphraseFile);
      const owner = new OwnerKeys(seed);
      output(
        {
          recipientKey: hexlify(recipientSecret(seed).publicKey().toCompressedBytes()),
          ownerVerifyingKey: hexlify(owner.verifyingKey.toCompressedBytes()),
          ...(o.label
            ? { label: o.label, labelKey: hexlify(owner.labelKey(o.label).toCompressedBytes()) }
            : {}),
        },
        o.json,
      );
    });
  keys
    .command("export-public")
    .description(
      "print one public key: the recipient key (give it to owners) or a label's key (give it to writers)",
    )
    .requiredOption(...keyOption)
    .option("--label <label>", "print this label's public key instead of the recipient key")
    .option(...passphraseOption)
    .addHelpText(
      "after",
      "\nExample:\n  nkms keys export-public --key bob.json        # send the output to the owner",
    )
    .action(async (o) => {
      const seed = await loadSeed(o.key, o.passphraseFile);
      const key = o.label ? new OwnerKeys(seed).labelKey(o.label) : recipientSecret(seed).publicKey();
      process.stdout.write(hexlify(key.toCompressedBytes()) + "\n");
    });

  program
    .command("encrypt")
    .description("encrypt a file of any size to a label (no network)")
    .requiredOption("--in <file>", "the plaintext file")
    .requiredOption("--out <file>", "the encrypted file to write")
    .option("--label-key <hex>", "the label's public key (a writer needs only this)")
    .option("--key <file>", "or: the owner's identity file, with --label")
    .option("--label <label>", "the label, with --key")
    .option(...passphraseOption)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  nkms encrypt --label-key 0x02… --in report.pdf --out report.pdf.nkms\n  nkms encrypt --key alice.json --label reports --in report.pdf --out report.pdf.nkms",
    )
    .action(async (o) => {
      let labelKey: PublicKey;
      if (o.labelKey) labelKey = parsePublicKey(o.labelKey, "--label-key");
      else if (o.key && o.label) {
        const seed = await loadSeed(o.key, o.passphraseFile);
        labelKey = new OwnerKeys(seed).labelKey(o.label);
      } else throw new ClientError("INVALID_ARGUMENT", "give --label-key, or --key with --label");
      const size = fs.statSync(o.in).size;
      const written = await writeChunks(
        o.out,
        encryptStream(labelKey, withProgress(readChunks(o.in), size, "encrypting", !o.json)),
      );
      output({ in: o.in, out: o.out, plaintextBytes: size, ciphertextBytes: written }, o.json);
    });

  program
    .command("decrypt")
    .description("decrypt a file encrypted to one of your labels, as its owner (no network)")
    .requiredOption(...keyOption)
    .requiredOption("--label <label>", "the label the file was encrypted to")
    .requiredOption("--in <file>", "the encrypted file")
    .requiredOption("--out <file>", "the plaintext file to write")
    .option(...passphraseOption)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExample:\n  nkms decrypt --key alice.json --label reports --in report.pdf.nkms --out report.pdf",
    )
    .action(async (o) => {
      const seed = await loadSeed(o.key, o.passphraseFile);
      const owner = new OwnerKeys(seed);
      const size = fs.statSync(o.in).size;
      const written = await writeChunks(
        o.out,
        owner.decryptStream(o.label, withProgress(readChunks(o.in), size, "decrypting", !o.json)),
      );
      output({ in: o.in, out: o.out, plaintextBytes: written }, o.json);
    });

  withNetwork(
    program
      .command("grant")
      .description(
        "grant a recipient m-of-n access to a label: samples nodes by stake, pays the fee, sends the shares",
      )
      .requiredOption(...keyOption)
      .requiredOption("--label <label>", "the label to share")
      .requiredOption("--recipient <hex>", "the recipient's key (`nkms keys export-public` on their side)")
      .requiredOption("--threshold <m>", "nodes needed to decrypt")
      .requiredOption("--shares <n>", "nodes holding a share")
      .requiredOption("--periods <count>", "how many periods the policy lasts")
      .option("--fee-rate <nkms>", "fee per node per period, in NKMS", "0.001")
      .option("--out <file>", "the policy map for the recipient (encrypted to them)", "policy.map")
      .option(
        "--owner-copy <file>",
        "your copy of the policy (for revoke, log, policy status)",
        "policy.owner",
      )
      .option("--timeout <ms>", "give up after this long", "60000")
      .option("--force", "overwrite the policy map and owner copy if they exist")
      .option(...passphraseOption),
  )
    .addHelpText(
      "after",
      "\nExample:\n  nkms grant --key alice.json --label reports --recipient 0x03… --threshold 3 --shares 5 --periods 10",
    )
    .action((o) => {
      // an earlier grant's owner copy is what revoking it (and its refund) needs: refused before paying
      const existing = [o.out, o.ownerCopy].find((file: string) => fs.existsSync(file));
      if (existing && !o.force) {
        throw new CliError(
          "OUTPUT_EXISTS",
          `${existing} already exists (an earlier grant's policy files are what revoke needs): ` +
            "choose other --out / --owner-copy files, or pass --force to overwrite them",
        );
      }
      return withOwner(o, async (owner) => {
        const grant = await owner.grant({
          recipient: parsePublicKey(o.recipient, "--recipient"),
          label: o.label,
          threshold: parseInteger(o.threshold, "--threshold"),
          shares: parseInteger(o.shares, "--shares"),
          periods: parseInteger(o.periods, "--periods"),
          feeRate: parseTokens(o.feeRate, "--fee-rate"),
          timeoutMs: parseInteger(o.timeout, "--timeout"),
        });
        fs.writeFileSync(o.out, grant.sealedMap);
        fs.writeFileSync(o.ownerCopy, encode(PolicyMap, grant.map), { mode: 0o600 });
        output(
          {
            policyId: grant.policyId,
            nodes: grant.nodes.map((n) => ({ staker: n.staker, url: n.url })),
            fee: o.json ? grant.fee : formatNkms(grant.fee),
            transactions: grant.transactions.map((t) => ({ name: t.name, hash: t.hash, gasUsed: t.gasUsed })),
            skipped: grant.failures,
            policyMap: o.out,
            ownerCopy: o.ownerCopy,
          },
          o.json,
        );
      });
    });

  withNetwork(
    program
      .command("retrieve")
      .description(
        "decrypt a file shared with you: asks the policy's nodes for re-encryptions, verifies, decrypts",
      )
      .requiredOption(...keyOption)
      .requiredOption("--policy <file>", "the policy map the owner sent you")
      .requiredOption("--in <file>", "the encrypted file")
      .requiredOption("--out <file>", "the plaintext file to write")
      .option("--mode <mode>", "hedged (ask m nodes, more after a delay) or all", "hedged")
      .option("--hedge-delay <ms>", "delay before asking one more node (default: adaptive)")
      .option("--timeout <ms>", "give up after this long", "30000")
      .option("--no-report", "do not submit evidence of wrong re-encryptions to the Adjudicator")
      .option(...passphraseOption),
    "recipient",
  )
    .addHelpText(
      "after",
      "\nExample:\n  nkms retrieve --key bob.json --policy policy.map --in report.pdf.nkms --out report.pdf",
    )
    .action(async (o) => {
      if (o.mode !== "hedged" && o.mode !== "all")
        throw new ClientError("INVALID_ARGUMENT", `--mode must be hedged or all, got ${o.mode}`);
      const seed = await loadSeed(o.key, o.passphraseFile);
      const c = connect(o, "recipient");
      const contracts = clientContracts(c.network.deployment, c.wallet);
      const recipient = new Recipient({
        secretKey: recipientSecret(seed),
        adjudicator: o.report ? contracts.adjudicator : undefined,
        chain: c.network.deployment.contracts.Adjudicator
          ? { chainId: c.network.chainId, adjudicatorAddress: c.network.deployment.contracts.Adjudicator }
          : undefined,
      });
      try {
        const policy = openPolicyMap(recipient, o.policy);
        const size = fs.statSync(o.in).size;
        const written = await writeChunks(
          o.out,
          recipient.decryptStream(policy, withProgress(readChunks(o.in), size, "decrypting", !o.json), {
            mode: o.mode,
            hedgeDelayMs:
              o.hedgeDelay === undefined ? undefined : parseInteger(o.hedgeDelay, "--hedge-delay", 0),
            timeoutMs: parseInteger(o.timeout, "--timeout"),
          }),
        );
        output(
          { in: o.in, out: o.out, plaintextBytes: written, policyId: hexlify(policy.map.policyId) },
          o.json,
        );
      } finally {
        recipient.close();
        c.close();
      }
    });

  withNetwork(
    program
      .command("revoke")
      .description("revoke a policy: signed orders to every node, and the on-chain revocation (refund)")
      .requiredOption(...keyOption)
      .requiredOption("--policy <file>", "your copy of the policy (from `nkms grant --owner-copy`)")
      .option("--no-chain", "only send the orders to the nodes")
      .option(...passphraseOption)
      .addHelpText("after", "\nExample:\n  nkms revoke --key alice.json --policy policy.owner"),
  ).action((o) =>
    withOwner(o, async (owner) => {
      const result = await owner.revoke(readPolicyMap(o.policy), { onChain: o.chain });
      const unsent = o.chain
        ? "the policy is no longer active on chain: already revoked or expired"
        : "--no-chain";
      output(
        {
          acknowledged: result.acknowledged,
          failed: result.failures,
          required: result.required,
          guaranteed: result.guaranteed,
          // absent from the JSON when none was sent
          transaction: result.transaction ?? (o.json ? undefined : `none sent (${unsent})`),
        },
        o.json,
      );
      if (!result.guaranteed) process.exitCode = 3;
    }),
  );

  withNetwork(
    program
      .command("log")
      .description("fetch and verify every node's access log of a policy")
      .requiredOption(...keyOption)
      .requiredOption("--policy <file>", "your copy of the policy")
      .option(...passphraseOption)
      .addHelpText("after", "\nExample:\n  nkms log --key alice.json --policy policy.owner"),
  ).action((o) =>
    withOwner(o, async (owner) => {
      const log = await owner.accessLog(readPolicyMap(o.policy));
      output({ nodes: log.nodes, failed: log.failures }, o.json);
    }),
  );

  const policy = program.command("policy").description("inspect policies");
  withNetwork(
    policy
      .command("status")
      .description("a policy's on-chain state")
      .option("--policy <file>", "your copy of the policy")
      .option("--id <policyId>", "or the policy id (0x + 32 hex digits)")
      .addHelpText("after", "\nExample:\n  nkms policy status --policy policy.owner"),
  ).action(async (o) => {
    const id = o.id ?? (o.policy ? hexlify(readPolicyMap(o.policy).policyId) : undefined);
    if (!id) throw new ClientError("INVALID_ARGUMENT", "give --policy <file> or --id <policyId>");
    const c = connect(o);
    try {
      const { policyManager, escrow } = clientContracts(c.network.deployment, c.provider);
      const info = await policyManager.policyInfo(id).catch((error: unknown) => {
        throw new ClientError("CHAIN_ERROR", `no policy ${id}: ${(error as Error).message.slice(0, 120)}`);
      });
      output(
        {
          policyId: id,
          owner: info.owner,
          recipient: info.recipient,
          startPeriod: info.startPeriod,
          endPeriod: info.endPeriod,
          currentPeriod: await escrow.currentPeriod(),
          revokedAt: info.revokedAt === 0n ? null : info.revokedAt,
          active: await policyManager.isPolicyActive(id),
          feeRate: info.feeRate,
          nodes: [...info.nodes],
        },
        o.json,
      );
    } finally {
      c.close();
    }
  });
}
