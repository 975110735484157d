/**
 * The `nkms` command: one module per command group, each adding its subcommands to the
 * program (node.ts: `nkms node init | run | status`; client.ts: keys, encrypt, decrypt, grant,
 * retrieve, revoke, log, policy; stake.ts: stake; devnet.ts: devnet up).
 */
import { Command, CommanderError } from "commander";
import { registerClientCommands } from "./client";
import { registerDevnetCommands } from "./devnet";
import { registerNodeCommands } from "./node";
import { registerStakeCommands } from "./stake";

export function buildProgram(): Command {
  const program = new Command("nkms")
    .description("NKMS: decentralized key management with threshold proxy re-encryption")
    .version("0.1.0")
    .showHelpAfterError()
    // commander's own errors (unknown option, missing value…) as `nkms: [USAGE] …`; subcommands inherit it
    .configureOutput({
      outputError: (message, write) => write(`nkms: [USAGE] ${message.replace(/^error: /, "")}`),
    });
  registerClientCommands(program);
  registerStakeCommands(program);
  registerNodeCommands(program);
  registerDevnetCommands(program);
  return program;
}

/** Runs the command line; errors with a `code` are printed as one line and exit non-zero. */
export function main(argv: string[]): void {
  // a reader that stops early (`nkms … | head`) is no failure: the rest of the output is dropped
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  buildProgram()
    .parseAsync(argv)
    .catch((error: unknown) => {
      if (error instanceof CommanderError) {
        process.exitCode = error.exitCode;
        return;
      }
      const code = (error as { code?: string }).code;
      process.stderr.write(`nkms: ${code ? `[${code}] ` : ""}${(error as Error).message ?? String(error)}\n`);
      process.exitCode = code === "NOT_BONDED" ? 2 : 1;
    });
}
