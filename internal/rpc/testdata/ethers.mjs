// ethers v6 against a Hemi JSON-RPC server: node ethers.mjs <url> <key> <initcode>
// Prints "ok" or throws. Run by TestEthers (internal/rpc/js_test.go).
import { createRequire } from "node:module";
const require = createRequire(process.env.HEMI_ETHERS_DIR + "/");
const { ethers } = require("ethers");

const [url, key, initCode] = process.argv.slice(2);
// cacheTimeout -1: ethers otherwise reuses a "pending" nonce for 250 ms,
// longer than the test's 50 ms blocks.
const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
provider.pollingInterval = 50;
const wallet = new ethers.Wallet(key, provider);
const step = (m) => { if (process.env.HEMI_DEBUG) console.error(new Date().toISOString(), m); };
const assert = (c, msg) => { if (!c) throw new Error("assertion failed: " + msg); };

const net = await provider.getNetwork();
assert(net.chainId === 7431337n, "chain id " + net.chainId);

// A transfer (EIP-1559 with fee data from eth_feeHistory/maxPriorityFeePerGas) and a wait.
const fee = await provider.getFeeData();
assert(fee.maxFeePerGas > 0n && fee.maxPriorityFeePerGas > 0n && fee.gasPrice > 0n, "fee data");
step("send");
const tx = await wallet.sendTransaction({ to: ethers.Wallet.createRandom().address, value: 1n });
step("wait " + tx.hash + " nonce " + tx.nonce);
const rcpt = await tx.wait();
step("mined");
assert(rcpt.status === 1, "transfer status");

// Blocks with prefetched transactions: the system tx (type 0x7e) decodes.
const block = await provider.getBlock(rcpt.blockNumber, true);
assert(block.prefetchedTransactions.length === 2, "prefetched " + block.prefetchedTransactions.length);
const sys = block.prefetchedTransactions[0];
assert(sys.type === 126, "system tx type " + sys.type);
const sysTx = await provider.getTransaction(sys.hash);
assert(sysTx.from.toLowerCase() === "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001", "system from " + sysTx.from);
const sysRcpt = await provider.getTransactionReceipt(sys.hash);
assert(sysRcpt.status === 1 && sysRcpt.type === 126, "system receipt");
for (const tag of ["latest", "pending", "earliest", "safe", "finalized"]) {
  assert((await provider.getBlock(tag)) !== null, "block " + tag);
}

// Deploy, call, events, revert reason.
step("deploy");
const deploy = await wallet.sendTransaction({ data: initCode });
const drc = await deploy.wait();
const addr = drc.contractAddress;
assert(BigInt(await provider.call({ to: addr })) === 42n, "call");
const c = await wallet.sendTransaction({ to: addr });
const crc = await c.wait();
assert(crc.logs.length === 1 && crc.logs[0].topics[0] === ethers.toBeHex(0xabc, 32), "log");
const logs = await provider.getLogs({ address: addr, fromBlock: 0 });
assert(logs.length === 1, "getLogs " + logs.length);
try {
  await provider.call({ to: addr, data: "0x01" });
  throw new Error("no revert");
} catch (e) {
  assert(e.code === "CALL_EXCEPTION" && e.reason === "boom", "revert: " + e.code + " " + e.reason);
}
try {
  await wallet.sendTransaction({ to: addr, nonce: 0 });
  throw new Error("nonce 0 accepted");
} catch (e) {
  assert(e.code === "NONCE_EXPIRED", "nonce too low: " + e.code + " " + e.message);
}
provider.destroy();
console.log("ok");
