// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TunnelBase} from "./TunnelBase.sol";

/// @title TunnelWithdrawals
/// @notice The withdrawal half of the Tunnel predeploy (DESIGN 6).
/// @dev MINIMAL STAND-IN written with the deposit half: it only queues
/// refunds (_queueRefund, RefundQueued) so deposits that cannot be minted
/// have somewhere to go. The withdrawal engineer's full contract
/// (withdraw, batches, posted signatures, paid marker) replaces this file
/// and keeps these names. Storage: ERC-7201 namespace
/// "hemi.tunnel.withdrawals" (WITHDRAWALS_SLOT).
abstract contract TunnelWithdrawals is TunnelBase {
    struct Refund {
        bytes32 txid;
        uint32 vout;
        uint64 amountSat;
        bytes script;
    }

    /// @custom:storage-location erc7201:hemi.tunnel.withdrawals
    struct WithdrawalStorage {
        uint64 nextRefund;
        mapping(uint64 => Refund) refunds;
    }

    bytes32 internal constant WITHDRAWALS_SLOT = 0x88794c2737fa7920d844041d9cd4bd189e9c3d7eec17923e02e131b4885c6a00;

    /// @notice A deposit was queued for refund to script (its first input's
    /// previous output script), to be paid in a later payout less its fee share.
    event RefundQueued(uint64 indexed id, bytes32 txid, uint32 vout, bytes script, uint64 amountSat);

    function _withdrawals() internal pure returns (WithdrawalStorage storage $) {
        assembly {
            $.slot := WITHDRAWALS_SLOT
        }
    }

    /// @notice Queues the refund of deposit txid:vout and returns its id
    /// (ids count from 1).
    function _queueRefund(bytes32 txid, uint32 vout, bytes memory script, uint64 amountSat) internal returns (uint64 id) {
        WithdrawalStorage storage $ = _withdrawals();
        id = ++$.nextRefund;
        $.refunds[id] = Refund(txid, vout, amountSat, script);
        emit RefundQueued(id, txid, vout, script, amountSat);
    }
}
