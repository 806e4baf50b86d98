// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {HBTC} from "./HBTC.sol";

/// @title TunnelBase
/// @notice What both halves of the Tunnel predeploy share (DESIGN 6): the
/// system address that system transactions come from, the hBTC token, and
/// the Bitcoin fee rate the view update records.
/// @dev Storage is ERC-7201 namespaced, so the deposit half (Tunnel.sol),
/// the withdrawal half (TunnelWithdrawals.sol) and this base each own a
/// namespace and no contract's declaration order moves another's slots.
/// The layout is consensus, written at genesis and read by Go
/// (internal/tunnel/l2abi.go): namespace "hemi.tunnel.base" at
/// BASE_SLOT = keccak256(abi.encode(uint256(keccak256("hemi.tunnel.base")) - 1)) & ~0xff;
/// one slot, BASE_SLOT: hbtc (bytes 12..31, set at genesis), the fee rate
/// (uint64 sat/vB, bytes 4..11) and the Bitcoin view height it is as of
/// (uint32, bytes 0..3).
abstract contract TunnelBase {
    /// @notice The sender of every system transaction (no private key exists).
    address public constant SYSTEM = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @custom:storage-location erc7201:hemi.tunnel.base
    struct BaseStorage {
        HBTC hbtc;
        uint64 feeRate;
        uint32 feeRateHeight;
    }

    bytes32 internal constant BASE_SLOT = 0xcb6614580dd63001962e282bab0362c63cde83d3089674666ce34bc88ca95000;

    /// @notice A system-only function was called by another account.
    error NotSystem();

    /// @notice The fee rate the view update recorded changed.
    event FeeRateSet(uint64 satPerVByte, uint32 bitcoinHeight);

    modifier onlySystem() {
        if (msg.sender != SYSTEM) revert NotSystem();
        _;
    }

    function _base() internal pure returns (BaseStorage storage $) {
        assembly {
            $.slot := BASE_SLOT
        }
    }

    /// @notice The hBTC token this tunnel mints and burns.
    function hbtc() public view returns (HBTC) {
        return _base().hbtc;
    }

    /// @notice The Bitcoin fee rate (sat/vB) of the current Bitcoin view:
    /// the median fee rate of the view's recent blocks, PoP transactions
    /// excluded, at least 1. Consensus: payouts pay it.
    function feeRate() public view returns (uint64) {
        return _base().feeRate;
    }

    /// @notice Records the fee rate as of the Bitcoin view at bitcoinHeight.
    /// SYSTEM only: the second system transaction of a block whose fee rate
    /// differs from its parent's (internal/chain/derive).
    function setFeeRate(uint64 satPerVByte, uint32 bitcoinHeight) external onlySystem {
        BaseStorage storage $ = _base();
        $.feeRate = satPerVByte;
        $.feeRateHeight = bitcoinHeight;
        emit FeeRateSet(satPerVByte, bitcoinHeight);
    }
}
