// ethers v6 against the Hemi devnet stack:
//   node ethers.mjs <rpc url> <private key> <Token artifact (forge JSON)> <recipient>
// Deploys the ERC-20 with a ContractFactory, listens for its Transfer
// events (contract.on), sends transfers as EIP-1559 (a contract method),
// EIP-2930 (type 1 with an access list) and legacy (type 0) transactions
// waited on with waitForTransaction / wait, queries the events back with a
// contract filter, reads blocks by every tag and decodes a revert reason.
// Prints one JSON object (see js_test.go, which checks it against the
// chain); any failure throws and exits non-zero.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.HEMI_ETHERS_DIR + "/");
const { ethers } = require("ethers");

const [url, key, artifactPath, recipient] = process.argv.slice(2);
const art = JSON.parse(readFileSync(artifactPath, "utf8"));
// cacheTimeout -1: ethers otherwise reuses a "pending" nonce for 250 ms.
const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
provider.pollingInterval = 100;
const wallet = new ethers.Wallet(key, provider);
const out = { client: "ethers " + ethers.version };
// HEMI_DEBUG=1 traces the steps on stderr.
const step = (m) => { if (process.env.HEMI_DEBUG) console.error(new Date().toISOString(), m); };

out.chainId = (await provider.getNetwork()).chainId.toString();
out.tags = {};
for (const tag of ["latest", "pending", "earliest", "safe", "finalized"]) {
  const b = await provider.getBlock(tag);
  out.tags[tag] = { number: b.number, hash: b.hash };
}

step("deploy");
const factory = new ethers.ContractFactory(art.abi, art.bytecode.object, wallet);
const token = await factory.deploy("Ethers Token", "ETK", 1000000n);
await token.waitForDeployment();
const address = await token.getAddress();
const dtx = token.deploymentTransaction();
const drc = await provider.waitForTransaction(dtx.hash, 1, 30000);
out.deploy = { address, hash: dtx.hash, block: drc.blockNumber, status: drc.status, contractAddress: drc.contractAddress };

step("listen");
// A live listener, installed before the transfers. ethers creates its
// filter (eth_newFilter) at its first block poll: give it a few polls.
let subscribed;
const live = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no Transfer event delivered to contract.on within 20 s")), 20000);
  // With a topic filter (not an event name) ethers passes the
  // ContractEventPayload alone; its args are the decoded event.
  subscribed = token.on(token.filters.Transfer(wallet.address, recipient), (...a) => {
    clearTimeout(timer);
    try {
      const { args, log } = a[a.length - 1];
      resolve([{ from: args.from, to: args.to, value: args.value.toString(), hash: log.transactionHash, block: log.blockNumber }]);
    } catch (e) {
      reject(e);
    }
  });
});

const data = (v) => token.interface.encodeFunctionData("transfer", [recipient, v]);
await subscribed;
await new Promise((r) => setTimeout(r, 500));
step("transfer 1559");
const t1 = await token.transfer(recipient, 100n);
const r1 = await t1.wait();
step("transfer 2930");
const t2 = await wallet.sendTransaction({ to: address, data: data(200n), type: 1, accessList: [{ address, storageKeys: [] }] });
const r2 = await provider.waitForTransaction(t2.hash, 1, 30000);
step("transfer legacy");
const t3 = await wallet.sendTransaction({ to: address, data: data(300n), type: 0 });
const r3 = await t3.wait();
out.txs = [r1, r2, r3].map((r) => ({ hash: r.hash, type: r.type, status: r.status, block: r.blockNumber }));

step("wait for the live event");
out.live = await live;
await token.removeAllListeners();

step("query events");
const evs = await token.queryFilter(token.filters.Transfer(null, recipient), drc.blockNumber);
out.events = evs.map((e) => ({ from: e.args.from, to: e.args.to, value: e.args.value.toString(), hash: e.transactionHash, block: e.blockNumber }));
const logs = await provider.getLogs({ address, topics: [ethers.id("Transfer(address,address,uint256)")], fromBlock: drc.blockNumber });
out.logs = logs.length;
out.balance = (await token.balanceOf(recipient)).toString();

const b1 = await provider.getBlock(r1.blockNumber);
out.transferBlock = { number: b1.number, hash: b1.hash, txs: b1.transactions };

step("revert");
try {
  await token.transfer.staticCall(recipient, 10n ** 30n);
  out.revert = "no revert";
} catch (e) {
  out.revert = e.code === "CALL_EXCEPTION" ? e.reason : e.code + ": " + e.message;
}
provider.destroy();
console.log(JSON.stringify(out));
