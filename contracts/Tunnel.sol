// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TunnelWithdrawals} from "./TunnelWithdrawals.sol";
import {HBTC} from "./HBTC.sol";

/// @title Tunnel
/// @notice The tunnel predeploy (DESIGN 6): Bitcoin deposits to the vault
/// are credited here by system transactions every node derives from the
/// block's Bitcoin view (internal/chain/derive), each exactly once per
/// outpoint: minted as hBTC, queued for refund, or recorded when it cannot
/// be refunded. Withdrawals are the TunnelWithdrawals half.
/// @dev A predeploy: runtime bytecode in the genesis state, no constructor;
/// the genesis writes the hBTC address and the initial deposit cursor.
/// Storage (consensus; read by Go in internal/tunnel/l2abi.go and proved
/// by provenance) is two ERC-7201 namespaces besides the withdrawal half's.
/// "hemi.tunnel.base" at BASE_SLOT = keccak256(abi.encode(uint256(keccak256("hemi.tunnel.base")) - 1)) & ~0xff,
/// one slot: hbtc (bytes 12..31, set at genesis), the fee rate (uint64
/// sat/vB, bytes 4..11) and the Bitcoin view height it is as of (uint32,
/// bytes 0..3). "hemi.tunnel.deposits" at
/// DEPOSITS_SLOT = keccak256(abi.encode(uint256(keccak256("hemi.tunnel.deposits")) - 1)) & ~0xff:
///   DEPOSITS_SLOT + 0  the cursor: height (uint32, low-order bytes 28..31),
///                      txPos (bytes 24..27), vout (bytes 20..23). Every vault
///                      output of Bitcoin blocks at or below height is
///                      processed, and of block height+1 those before
///                      (txPos, vout) in (position in block, output) order.
///   DEPOSITS_SLOT + 1  minted: key => Minted. Slot keccak256(key . (DEPOSITS_SLOT+1)):
///                      to (bytes 12..31), amountSat (bytes 4..11); the next
///                      slot: l2Block (bytes 24..31).
///   DEPOSITS_SLOT + 2  settled: key => Settled, deposits not minted, one slot:
///                      kind (byte 31: 1 refund queued, 2 recorded), reason
///                      (byte 30), amountSat (bytes 22..29), refundId (bytes
///                      14..21), l2Block (bytes 6..13).
///   DEPOSITS_SLOT + 3  recordedSat: sum of recorded (unrefundable) deposits.
/// key = keccak256(abi.encodePacked(txid, vout)), txid in Bitcoin's wire
/// (internal) byte order, vout uint32 big-endian: 36 bytes.
contract Tunnel is TunnelWithdrawals {
    struct Minted {
        address to;
        uint64 amountSat;
        uint64 l2Block;
    }

    struct Settled {
        uint8 kind;
        uint8 reason;
        uint64 amountSat;
        uint64 refundId;
        uint64 l2Block;
    }

    /// @custom:storage-location erc7201:hemi.tunnel.base
    struct BaseStorage {
        HBTC hbtc;
        uint64 feeRate;
        uint32 feeRateHeight;
    }

    bytes32 internal constant BASE_SLOT = 0xcb6614580dd63001962e282bab0362c63cde83d3089674666ce34bc88ca95000;

    /// @custom:storage-location erc7201:hemi.tunnel.deposits
    struct DepositStorage {
        uint32 cursorHeight;
        uint32 cursorTxPos;
        uint32 cursorVout;
        mapping(bytes32 => Minted) minted;
        mapping(bytes32 => Settled) settled;
        uint64 recordedSat;
    }

    bytes32 internal constant DEPOSITS_SLOT = 0x39c801665dbaac1ead8306d12124101136a9dac1a13aa820e6d8de97191a8f00;

    uint8 internal constant SETTLED_REFUND = 1;
    uint8 internal constant SETTLED_RECORDED = 2;
    /// @notice Reason recorded for a mint to the zero address, which the
    /// derivation never asks for (it refunds a deposit without a recipient).
    uint8 public constant REASON_ZERO_RECIPIENT = 0xff;

    /// @notice Deposit txid:vout minted amountSat hBTC (satoshis) to `to`.
    event DepositMinted(bytes32 indexed key, bytes32 txid, uint32 vout, address indexed to, uint64 amountSat);
    /// @notice Deposit key was queued for refund as refund refundId
    /// (RefundQueued has the script and amount) because of reason; `to` is
    /// the recipient its OP_RETURN named (zero when none parsed).
    event DepositRefundQueued(bytes32 indexed key, address indexed to, uint64 refundId, uint8 reason);
    /// @notice Deposit txid:vout cannot be minted nor refunded (reason); its
    /// amountSat stays in the vault, recoverable by the recovery set.
    event DepositRecorded(bytes32 indexed key, bytes32 txid, uint32 vout, address indexed to, uint64 amountSat, uint8 reason);
    /// @notice The deposit cursor moved (see the storage layout above).
    event DepositCursorSet(uint32 height, uint32 txPos, uint32 vout);

    /// @notice The fee rate the view update recorded changed.
    event FeeRateSet(uint64 satPerVByte, uint32 bitcoinHeight);

    function _base() internal pure returns (BaseStorage storage $) {
        assembly {
            $.slot := BASE_SLOT
        }
    }

    /// @notice The hBTC token this tunnel mints and burns.
    function hbtc() external view returns (HBTC) {
        return _base().hbtc;
    }

    /// @notice The Bitcoin fee rate (sat/vB) of the current Bitcoin view:
    /// the median of the fee rates of the view's recent blocks, PoP
    /// transactions excluded, at least 1. Consensus: payouts pay it.
    function feeRate() external view returns (uint64) {
        return _base().feeRate;
    }

    /// @notice Records the fee rate as of the Bitcoin view at bitcoinHeight.
    /// SYSTEM only: the second system transaction of a block whose fee rate
    /// differs from its parent's (internal/chain/derive).
    function setFeeRate(uint64 satPerVByte, uint32 bitcoinHeight) external onlySystem {
        BaseStorage storage $ = _base();
        ($.feeRate, $.feeRateHeight) = (satPerVByte, bitcoinHeight);
        emit FeeRateSet(satPerVByte, bitcoinHeight);
    }

    /// @dev A withdrawal burns the withdrawer's hBTC (reverts when short).
    function _burn(address from, uint64 amountSat) internal override {
        _base().hbtc.burn(from, amountSat);
    }

    function _deposits() internal pure returns (DepositStorage storage $) {
        assembly {
            $.slot := DEPOSITS_SLOT
        }
    }

    /// @notice The key of deposit txid:vout (txid in wire byte order).
    function depositKey(bytes32 txid, uint32 vout) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(txid, vout));
    }

    /// @notice Whether deposit key was minted, refunded or recorded.
    function processed(bytes32 key) public view returns (bool) {
        DepositStorage storage $ = _deposits();
        return $.minted[key].l2Block != 0 || $.settled[key].kind != 0;
    }

    /// @notice Mints amountSat hBTC to `to` for deposit txid:vout. SYSTEM
    /// only. It cannot revert: a deposit already processed is ignored (so
    /// each outpoint is credited once), a zero recipient is recorded.
    function mint(bytes32 txid, uint32 vout, address to, uint64 amountSat) external onlySystem {
        bytes32 key = depositKey(txid, vout);
        if (processed(key)) return;
        if (to == address(0)) {
            _record(key, txid, vout, to, amountSat, REASON_ZERO_RECIPIENT);
            return;
        }
        _deposits().minted[key] = Minted(to, amountSat, uint64(block.number));
        _base().hbtc.mint(to, amountSat);
        emit DepositMinted(key, txid, vout, to, amountSat);
    }

    /// @notice Queues deposit txid:vout for refund to script (its first
    /// input's previous output script) for reason; `to` is the recipient
    /// its OP_RETURN named, if any (an under-minimum deposit). SYSTEM only;
    /// ignored when already processed.
    function refundDeposit(bytes32 txid, uint32 vout, address to, bytes calldata script, uint64 amountSat, uint8 reason)
        external
        onlySystem
    {
        bytes32 key = depositKey(txid, vout);
        if (processed(key)) return;
        uint64 id = _queueRefund(txid, vout, script, amountSat);
        _deposits().settled[key] = Settled(SETTLED_REFUND, reason, amountSat, id, uint64(block.number));
        emit DepositRefundQueued(key, to, id, reason);
    }

    /// @notice Records deposit txid:vout, which can be neither minted nor
    /// refunded, with its reason. SYSTEM only; ignored when already processed.
    function recordDeposit(bytes32 txid, uint32 vout, address to, uint64 amountSat, uint8 reason) external onlySystem {
        bytes32 key = depositKey(txid, vout);
        if (processed(key)) return;
        _record(key, txid, vout, to, amountSat, reason);
    }

    /// @notice Moves the deposit cursor. SYSTEM only: the first deposit
    /// system transaction of a block whose derivation moved it.
    function setDepositCursor(uint32 height, uint32 txPos, uint32 vout) external onlySystem {
        DepositStorage storage $ = _deposits();
        ($.cursorHeight, $.cursorTxPos, $.cursorVout) = (height, txPos, vout);
        emit DepositCursorSet(height, txPos, vout);
    }

    /// @notice The deposit cursor (see the storage layout).
    function depositCursor() external view returns (uint32 height, uint32 txPos, uint32 vout) {
        DepositStorage storage $ = _deposits();
        return ($.cursorHeight, $.cursorTxPos, $.cursorVout);
    }

    /// @notice A deposit's record: minted (to, amount, L2 block), or settled
    /// (kind 1 refund queued with refundId, kind 2 recorded; reason).
    function depositOf(bytes32 txid, uint32 vout) external view returns (Minted memory minted, Settled memory settled) {
        bytes32 key = depositKey(txid, vout);
        DepositStorage storage $ = _deposits();
        return ($.minted[key], $.settled[key]);
    }

    /// @notice Sum of the recorded (unrefundable) deposits, in satoshis.
    function recordedSat() external view returns (uint64) {
        return _deposits().recordedSat;
    }

    function _record(bytes32 key, bytes32 txid, uint32 vout, address to, uint64 amountSat, uint8 reason) private {
        DepositStorage storage $ = _deposits();
        $.settled[key] = Settled(SETTLED_RECORDED, reason, amountSat, 0, uint64(block.number));
        $.recordedSat += amountSat;
        emit DepositRecorded(key, txid, vout, to, amountSat, reason);
    }
}
