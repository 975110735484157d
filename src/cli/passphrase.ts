/** The keystore passphrase: from a file, the NKMS_PASSPHRASE variable, or a silent prompt. */
import fs from "node:fs";
import readline from "node:readline";

/** the shortest passphrase a new keystore takes (an existing one opens with whatever it was made with) */
export const MIN_PASSPHRASE_LENGTH = 8;

export class PassphraseError extends Error {
  constructor(
    readonly code: "NO_PASSPHRASE" | "PASSPHRASE_UNREADABLE" | "PASSPHRASE_TOO_SHORT" | "PASSPHRASE_MISMATCH",
    message: string,
  ) {
    super(message);
    this.name = "PassphraseError";
  }
}

/** `confirm`: the passphrase of a new keystore (at least MIN_PASSPHRASE_LENGTH; asked twice at a prompt). */
export async function readPassphrase(options: {
  passphraseFile?: string;
  confirm?: boolean;
}): Promise<string> {
  const check = (passphrase: string) => {
    if (options.confirm && passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new PassphraseError(
        "PASSPHRASE_TOO_SHORT",
        `a new keystore's passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`,
      );
    }
    return passphrase;
  };
  if (options.passphraseFile) return check(readPassphraseFile(options.passphraseFile));
  if (process.env.NKMS_PASSPHRASE) return check(process.env.NKMS_PASSPHRASE);
  if (!process.stdin.isTTY) {
    throw new PassphraseError(
      "NO_PASSPHRASE",
      "no passphrase: use --passphrase-file, NKMS_PASSPHRASE, or run in a terminal",
    );
  }
  const first = check(await prompt("Keystore passphrase: "));
  if (options.confirm && (await prompt("Repeat the passphrase: ")) !== first)
    throw new PassphraseError("PASSPHRASE_MISMATCH", "the passphrases differ");
  return first;
}

function readPassphraseFile(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    throw new PassphraseError(
      "PASSPHRASE_UNREADABLE",
      `cannot read the passphrase file ${file}: ${(error as Error).message}`,
    );
  }
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
