// viem against the Hemi devnet stack:
//   node viem.mjs <rpc url> <private key> <Token artifact (forge JSON)> <recipient>
// Deploys the ERC-20 (deployContract), watches its Transfer events
// (watchContractEvent), sends transfers as EIP-1559 (writeContract),
// EIP-2930 and legacy (sendTransaction) transactions waited on with
// waitForTransactionReceipt, reads the events back (getContractEvents,
// getLogs), reads blocks by every tag and decodes a revert reason
// (simulateContract). Prints one JSON object in the shape of ethers.mjs's
// (see js_test.go); any failure throws and exits non-zero.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.HEMI_ETHERS_DIR + "/");
const viem = require("viem");
const { privateKeyToAccount } = require("viem/accounts");

const [url, key, artifactPath, recipient] = process.argv.slice(2);
const art = JSON.parse(readFileSync(artifactPath, "utf8"));
const abi = art.abi;
const chain = viem.defineChain({
  id: 7431337,
  name: "Hemi devnet",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [url] } },
});
const transport = viem.http(url);
const pub = viem.createPublicClient({ chain, transport, pollingInterval: 100 });
const account = privateKeyToAccount(key);
const wallet = viem.createWalletClient({ account, chain, transport, pollingInterval: 100 });
const types = { eip1559: 2, eip2930: 1, legacy: 0 };
const status = (s) => (s === "success" ? 1 : 0);
const version = JSON.parse(readFileSync(process.env.HEMI_ETHERS_DIR + "/node_modules/viem/package.json", "utf8")).version;
const out = { client: "viem " + version };

out.chainId = String(await pub.getChainId());
out.tags = {};
for (const tag of ["latest", "pending", "earliest", "safe", "finalized"]) {
  const b = await pub.getBlock({ blockTag: tag });
  out.tags[tag] = { number: Number(b.number), hash: b.hash };
}

const dhash = await wallet.deployContract({ abi, bytecode: art.bytecode.object, args: ["Viem Token", "VTK", 1000000n] });
const drc = await pub.waitForTransactionReceipt({ hash: dhash, pollingInterval: 100 });
const address = drc.contractAddress;
out.deploy = { address, hash: dhash, block: Number(drc.blockNumber), status: status(drc.status), contractAddress: address };

const ev = (l) => ({ from: l.args.from, to: l.args.to, value: l.args.value.toString(), hash: l.transactionHash, block: Number(l.blockNumber) });
const live = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no Transfer event delivered to watchContractEvent within 20 s")), 20000);
  const unwatch = pub.watchContractEvent({
    address, abi, eventName: "Transfer", args: { to: recipient }, pollingInterval: 100,
    onLogs: (logs) => { clearTimeout(timer); unwatch(); resolve(logs.map(ev)); },
    onError: (e) => { clearTimeout(timer); reject(e); },
  });
});

// viem creates its filter (eth_newFilter) at its first poll: give it a few.
await new Promise((r) => setTimeout(r, 500));
const data = (v) => viem.encodeFunctionData({ abi, functionName: "transfer", args: [recipient, v] });
const h1 = await wallet.writeContract({ address, abi, functionName: "transfer", args: [recipient, 100n] });
const r1 = await pub.waitForTransactionReceipt({ hash: h1, pollingInterval: 100 });
const h2 = await wallet.sendTransaction({ to: address, data: data(200n), type: "eip2930", accessList: [{ address, storageKeys: [] }] });
const r2 = await pub.waitForTransactionReceipt({ hash: h2, pollingInterval: 100 });
const h3 = await wallet.sendTransaction({ to: address, data: data(300n), type: "legacy" });
const r3 = await pub.waitForTransactionReceipt({ hash: h3, pollingInterval: 100 });
out.txs = [r1, r2, r3].map((r) => ({ hash: r.transactionHash, type: types[r.type] ?? r.type, status: status(r.status), block: Number(r.blockNumber) }));

out.live = await live;

const evs = await pub.getContractEvents({ address, abi, eventName: "Transfer", args: { to: recipient }, fromBlock: drc.blockNumber });
out.events = evs.map(ev);
const logs = await pub.getLogs({
  address,
  event: viem.parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)"),
  fromBlock: drc.blockNumber,
  toBlock: "latest",
});
out.logs = logs.length;
out.balance = (await pub.readContract({ address, abi, functionName: "balanceOf", args: [recipient] })).toString();

const b1 = await pub.getBlock({ blockNumber: r1.blockNumber });
out.transferBlock = { number: Number(b1.number), hash: b1.hash, txs: b1.transactions };

try {
  await pub.simulateContract({ account, address, abi, functionName: "transfer", args: [recipient, 10n ** 30n] });
  out.revert = "no revert";
} catch (e) {
  const c = e.walk((x) => x instanceof viem.ContractFunctionRevertedError);
  out.revert = c ? c.reason : e.shortMessage;
}
console.log(JSON.stringify(out));
