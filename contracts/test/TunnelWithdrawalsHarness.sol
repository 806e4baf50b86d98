// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "../TunnelWithdrawals.sol";

/// @title TunnelWithdrawalsHarness
/// @notice Test-only concrete TunnelWithdrawals (internal/tunnel's EVM
/// tests): a plain satoshi balance per account stands in for hBTC, so the
/// withdrawal code is tested before and apart from contracts/Tunnel.sol.
/// Never deployed on a network.
contract TunnelWithdrawalsHarness is TunnelWithdrawals {
    mapping(address => uint64) public balanceOf;

    error InsufficientBalance();

    function credit(address to, uint64 amountSat) external {
        balanceOf[to] += amountSat;
    }

    function queueRefund(bytes32 txid, uint32 vout, bytes calldata script, uint64 amountSat) external returns (uint64) {
        return _queueRefund(txid, vout, script, amountSat);
    }

    function _burn(address from, uint64 amountSat) internal override {
        if (balanceOf[from] < amountSat) revert InsufficientBalance();
        balanceOf[from] -= amountSat;
    }
}
