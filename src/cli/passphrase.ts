/** The keystore passphrase: from a file, the NKMS_PASSPHRASE variable, or a silent prompt. */
import fs from "node:fs";
import readline from "node:readline";

export class PassphraseError extends Error {
  readonly code = "NO_PASSPHRASE";
  constructor(message: string) {
    super(message);
    this.name = "PassphraseError";
  }
}

export async function readPassphrase(options: {
  passphraseFile?: string;
  confirm?: boolean;
}): Promise<string> {
  if (options.passphraseFile) return fs.readFileSync(options.passphraseFile, "utf8").replace(/\r?\n$/, "");
  if (process.env.NKMS_PASSPHRASE) return process.env.NKMS_PASSPHRASE;
  if (!process.stdin.isTTY) {
    throw new PassphraseError("no passphrase: use --passphrase-file, NKMS_PASSPHRASE, or run in a terminal");
  }
  const first = await prompt("Keystore passphrase: ");
  if (options.confirm) {
    if (first.length < 8) throw new PassphraseError("the passphrase must have at least 8 characters");
    if ((await prompt("Repeat the passphrase: ")) !== first)
      throw new PassphraseError("the passphrases differ");
  }
  return first;
}

function prompt(question: string): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const muted = rl as unknown as { _writeToOutput: (s: string) => void };
  process.stderr.write(question);
  muted._writeToOutput = () => {};
  return new Promise((resolve) =>
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    }),
  );
}
