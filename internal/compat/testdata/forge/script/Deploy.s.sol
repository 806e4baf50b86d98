// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Token} from "../src/Token.sol";
import {BitcoinReader} from "../src/BitcoinReader.sol";

/// Vm is the part of Foundry's cheatcode interface the script uses
/// (forge-std is not available offline).
interface Vm {
    function envUint(string calldata name) external view returns (uint256);
    function envAddress(string calldata name) external view returns (address);
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
}

/// Deploy is run by `forge script --broadcast`: it deploys a Token and a
/// BitcoinReader and sends token calls (a transfer and an approval), each
/// becoming one transaction on the chain. The precompiles are not called
/// here: forge executes the script in its own EVM first, which has no hVM.
contract Deploy {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (Token token, BitcoinReader reader) {
        uint256 key = vm.envUint("HEMI_DEPLOYER_KEY");
        address to = vm.envAddress("HEMI_RECIPIENT");
        vm.startBroadcast(key);
        token = new Token("Script Token", "SCR", 1_000_000 ether);
        reader = new BitcoinReader();
        require(token.transfer(to, 1234 ether), "transfer");
        require(token.approve(to, 77 ether), "approve");
        vm.stopBroadcast();
    }
}
