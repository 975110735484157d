/**
 * The devnet's start, in process: a node that cannot start makes `startDevnet` fail, and what it
 * had started (the other nodes, the JSON-RPC server) is stopped, so `nkms devnet up` exits instead
 * of hanging on a listening server.
 */
import { expect } from "chai";
import hre from "hardhat";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startDevnet } from "../../src/cli/devnet";
import { createLogger } from "../../src/node/log";

/** Listens on a free loopback port; the server holds it until closed. */
async function holdPort(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Whether something accepts connections on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("devnet: a failed start", function () {
  this.timeout(120_000);

  it("stops the nodes it started and its JSON-RPC server when a node cannot start", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-devnet-fail-"));
    const taken = await holdPort();
    // a free port for the chain: found, then let go
    const free = await holdPort();
    const rpcPort = free.port;
    await new Promise((resolve) => free.server.close(resolve));
    const ports: number[] = [];
    try {
      await startDevnet({
        hre,
        nodes: 2,
        dir,
        rpcPort,
        logger: createLogger("error", () => undefined),
        tune: (config, i) => {
          // node 1 is told to listen where something already does
          if (i === 1) config.listen.port = taken.port;
          ports.push(config.listen.port);
        },
      }).then(
        () => expect.fail("the devnet started with a node that cannot listen"),
        (error: { code?: string }) => expect(error.code).to.equal("EADDRINUSE"),
      );
      expect(ports).to.have.length(2);
      expect(await listening(rpcPort), "the JSON-RPC server").to.equal(false);
      expect(await listening(ports[0]), "node 0").to.equal(false);
    } finally {
      taken.server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
