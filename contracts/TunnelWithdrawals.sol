// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title TunnelWithdrawals
/// @notice The withdrawal half of the tunnel predeploy (DESIGN 6): burns of
/// hBTC queued as withdrawals, deposit refunds queued by the mint path, the
/// one payout batch in flight, the signatures signers post for it, and the
/// paid marker and vault-watch flags that consensus writes.
/// @dev Abstract: contracts/Tunnel.sol (`contract Tunnel is
/// TunnelWithdrawals`) supplies `_burn` (hBTC burned from the withdrawer)
/// and calls `_queueRefund` from its deposit path.
///
/// Who writes what:
///   - withdraw: any account holding hBTC.
///   - postSignatures: any account (signers post from their own funded L2
///     accounts; assemblers verify every signature off-chain, so a bad
///     post costs its poster gas and nothing else).
///   - openBatch, markPaid, flagVaultSpend, flagShortfall: SYSTEM only,
///     i.e. system transactions every node derives from the block's
///     Bitcoin view and the parent state (internal/tunnel, derive side).
///     They never revert on derived input: the derivers only produce
///     calls the checks here accept (a revert would still be consensus,
///     but would lose the marker).
///
/// Storage is one ERC-7201 namespace so that its slots do not depend on
/// the inheriting contract's own variables. Go reads it directly
/// (internal/tunnel/l2wd.go); the layout is consensus, do not reorder:
///
///   NS = keccak256(abi.encode(uint256(keccak256("hemi.tunnel.withdrawals")) - 1)) & ~0xff
///   NS+0  nextId (u64, low bytes) | firstPending (u64) | lastBatch (u64, 0 = none yet; batches count from 1) | lastShortfall (u64, high bytes)
///   NS+1  items: mapping(uint64 id => Item)
///   NS+2  open batch word 0: number (u64) | attempt (u32) | feeRate (u64) | btcHeight (u32) | open (u8) | refresh (u8)
///   NS+3  open batch word 1: change (u64) | fee (u64) | refreshFees (u64, total debited by refresh-only batches)
///   NS+4  open batch inputs: Input[] (2 slots each: txid; amount u64 | vout u32 | height u32)
///   NS+5  open batch outputs: Output[] (1 slot each: id u64 | value u64)
///   NS+6  open batch attempt fee rates: uint64[] (index = attempt)
///   NS+7  posted: mapping(bytes32 keccak256(abi.encodePacked(uint64 batch, uint32 attempt)) => uint256 signer bitmap)
///   NS+8  flaggedSpend: mapping(bytes32 spender txid => bool)
///   NS+9  pendingSat (u64): the amounts of queued and in-batch items, not yet paid
///   NS+10 paidBy: mapping(bytes32 payout txid => uint64 batch number)
///   NS+11 paidTxid: mapping(uint64 batch number => bytes32 payout txid)
///
/// Item (4 slots from keccak256(abi.encode(id, NS+1))):
///   +0 amountSat (u64) | maxFeeSat (u64) | l2Block (u64) | kind (u8) | status (u8)
///   +1 batch (u64) | vout (u32) | from (address)
///   +2 txid (refunds: the deposit's txid, wire order)
///   +3 script (bytes, Solidity's bytes storage encoding)
///
/// Bitcoin hashes (txids) are in wire (internal) byte order, as Bitcoin
/// transactions reference them; amounts are satoshis.
abstract contract TunnelWithdrawals {
    /// @notice The sender of every system transaction (no key exists).
    address public constant SYSTEM = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @notice Outputs of one payout, at most (DESIGN 6).
    uint256 public constant MAX_OUTPUTS = 25;

    uint8 internal constant KIND_WITHDRAWAL = 1;
    uint8 internal constant KIND_REFUND = 2;

    uint8 internal constant STATUS_QUEUED = 1;
    uint8 internal constant STATUS_IN_BATCH = 2;
    uint8 internal constant STATUS_PAID = 3;

    struct Item {
        uint64 amountSat;
        uint64 maxFeeSat;
        uint64 l2Block;
        uint8 kind;
        uint8 status;
        uint64 batch;
        uint32 vout;
        address from;
        bytes32 txid;
        bytes script;
    }

    /// @notice A vault output a batch spends.
    struct Input {
        bytes32 txid;
        uint64 amountSat;
        uint32 vout;
        uint32 height;
    }

    /// @notice A payout output: the queue item it pays and the satoshis it
    /// pays (the item's amount less its fee share at the attempt's rate).
    struct Output {
        uint64 id;
        uint64 valueSat;
    }

    struct Batch {
        uint64 number;
        uint32 attempt;
        uint64 feeRate;
        uint32 btcHeight;
        bool open;
        bool refresh;
        uint64 changeSat;
        uint64 feeSat;
        uint64 refreshFeesSat;
        Input[] inputs;
        Output[] outputs;
        uint64[] attemptRates;
    }

    /// @custom:storage-location erc7201:hemi.tunnel.withdrawals
    struct Layout {
        uint64 nextId;
        uint64 firstPending;
        uint64 lastBatch;
        uint64 lastShortfall;
        mapping(uint64 => Item) items;
        Batch batch;
        mapping(bytes32 => uint256) posted;
        mapping(bytes32 => bool) flaggedSpend;
        uint64 pendingSat;
        mapping(bytes32 => uint64) paidBy;
        mapping(uint64 => bytes32) paidTxid;
    }

    // keccak256(abi.encode(uint256(keccak256("hemi.tunnel.withdrawals")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant LAYOUT_SLOT = 0x88794c2737fa7920d844041d9cd4bd189e9c3d7eec17923e02e131b4885c6a00;

    function _layout() internal pure returns (Layout storage l) {
        bytes32 s = LAYOUT_SLOT;
        assembly {
            l.slot := s
        }
    }

    event WithdrawalQueued(uint64 indexed id, address indexed from, bytes script, uint64 amountSat, uint64 maxFeeSat);
    event RefundQueued(uint64 indexed id, bytes32 txid, uint32 vout, bytes script, uint64 amountSat);
    event BatchOpened(
        uint64 indexed batch, uint32 attempt, uint64 feeRate, uint32 btcHeight, uint256 inputs, uint64[] ids, uint64 changeSat, uint64 feeSat
    );
    event SignaturesPosted(uint64 indexed batch, uint32 attempt, uint8 signerIndex, address poster, bytes[] sigs);
    event BatchPaid(uint64 indexed batch, uint32 attempt, bytes32 txid);
    event VaultSpendFlagged(bytes32 indexed spendTxid, bytes32 txid, uint32 vout, uint64 amountSat, uint64 cancelledBatch);
    event ShortfallFlagged(uint64 vaultSat, uint64 owedSat);

    error NotSystem();
    error BadScript();
    error AmountAtOrUnderDust(uint64 dustSat);
    error NoSuchBatch();
    error BadSignatures();
    error BadBatch();

    modifier onlySystem() {
        if (msg.sender != SYSTEM) revert NotSystem();
        _;
    }

    /// @dev Burns amountSat of hBTC from `from` (reverts when it lacks it).
    function _burn(address from, uint64 amountSat) internal virtual;

    /// @notice Bitcoin Core's dust limit (3 sat/vB dust relay fee) of a
    /// standard output script, 0 for any other script. Standard: P2PKH,
    /// P2SH, P2WPKH, P2WSH, P2TR (DESIGN 6).
    function dustLimit(bytes memory script) public pure returns (uint64) {
        uint256 n = script.length;
        if (n == 25 && script[0] == 0x76 && script[1] == 0xa9 && script[2] == 0x14 && script[23] == 0x88 && script[24] == 0xac) {
            return 546; // P2PKH
        }
        if (n == 23 && script[0] == 0xa9 && script[1] == 0x14 && script[22] == 0x87) {
            return 540; // P2SH
        }
        if (n == 22 && script[0] == 0x00 && script[1] == 0x14) {
            return 294; // P2WPKH
        }
        if (n == 34 && script[0] == 0x00 && script[1] == 0x20) {
            return 330; // P2WSH
        }
        if (n == 34 && script[0] == 0x51 && script[1] == 0x20) {
            return 330; // P2TR
        }
        return 0;
    }

    /// @notice Burns amountSat of hBTC from the sender and queues its
    /// payout to script (a standard output script), which pays at most
    /// maxFeeSat of the payout's fee; amountSat - maxFeeSat must be above
    /// the script type's dust limit, so the output is always relayable.
    function withdraw(bytes calldata script, uint64 amountSat, uint64 maxFeeSat) external returns (uint64 id) {
        uint64 dust = dustLimit(script);
        if (dust == 0) revert BadScript();
        if (maxFeeSat >= amountSat || amountSat - maxFeeSat <= dust) revert AmountAtOrUnderDust(dust);
        _burn(msg.sender, amountSat);
        id = _push(KIND_WITHDRAWAL, script, amountSat, maxFeeSat, msg.sender, bytes32(0), 0);
        emit WithdrawalQueued(id, msg.sender, script, amountSat, maxFeeSat);
    }

    /// @dev Queues the refund of a deposit (txid in wire order, vout) to
    /// script. It never reverts (the mint path cannot): the refund may pay
    /// a fee share up to what keeps it above dust; the deposit deriver
    /// records instead of refunding what cannot be refunded.
    function _queueRefund(bytes32 txid, uint32 vout, bytes memory script, uint64 amountSat) internal returns (uint64 id) {
        uint64 dust = dustLimit(script);
        uint64 maxFee = amountSat > dust + 1 ? amountSat - dust - 1 : 0;
        id = _push(KIND_REFUND, script, amountSat, maxFee, address(0), txid, vout);
        emit RefundQueued(id, txid, vout, script, amountSat);
    }

    function _push(uint8 kind, bytes memory script, uint64 amountSat, uint64 maxFeeSat, address from, bytes32 txid, uint32 vout)
        private
        returns (uint64 id)
    {
        Layout storage l = _layout();
        id = l.nextId;
        l.nextId = id + 1;
        l.pendingSat += amountSat;
        Item storage it = l.items[id];
        it.amountSat = amountSat;
        it.maxFeeSat = maxFeeSat;
        it.l2Block = uint64(block.number);
        it.kind = kind;
        it.status = STATUS_QUEUED;
        it.from = from;
        it.txid = txid;
        it.vout = vout;
        it.script = script;
    }

    /// @notice Posts a signer's signatures (one per payout input, BIP-340,
    /// SIGHASH_DEFAULT) for the open batch's current attempt. Anyone may
    /// post; whoever assembles verifies each one first.
    function postSignatures(uint64 batch, uint32 attempt, uint8 signerIndex, bytes[] calldata sigs) external {
        Layout storage l = _layout();
        Batch storage b = l.batch;
        if (!b.open || b.number != batch || b.attempt != attempt) revert NoSuchBatch();
        if (sigs.length != b.inputs.length) revert BadSignatures();
        for (uint256 i = 0; i < sigs.length; i++) {
            if (sigs[i].length != 64) revert BadSignatures();
        }
        l.posted[keccak256(abi.encodePacked(batch, attempt))] |= uint256(1) << signerIndex;
        emit SignaturesPosted(batch, attempt, signerIndex, msg.sender, sigs);
    }

    /// @notice Opens batch number (attempt 0) or re-derives it at a higher
    /// fee rate (attempt > 0, the same inputs and item ids). SYSTEM only.
    function openBatch(
        uint64 number,
        uint32 attempt,
        uint64 feeRate,
        uint32 btcHeight,
        bool refresh,
        uint64 changeSat,
        uint64 feeSat,
        Input[] calldata inputs,
        Output[] calldata outputs
    ) external onlySystem {
        Layout storage l = _layout();
        Batch storage b = l.batch;
        uint64[] memory ids = new uint64[](outputs.length);
        if (attempt == 0) {
            if (b.open || number != l.lastBatch + 1 || inputs.length == 0 || outputs.length > MAX_OUTPUTS) revert BadBatch();
            l.lastBatch = number;
            b.number = number;
            b.refresh = refresh;
            delete b.inputs;
            delete b.outputs;
            delete b.attemptRates;
            for (uint256 i = 0; i < inputs.length; i++) {
                b.inputs.push(inputs[i]);
            }
            for (uint256 i = 0; i < outputs.length; i++) {
                Item storage it = l.items[outputs[i].id];
                if (it.status != STATUS_QUEUED) revert BadBatch();
                it.status = STATUS_IN_BATCH;
                it.batch = number;
                b.outputs.push(outputs[i]);
                ids[i] = outputs[i].id;
            }
        } else {
            if (!b.open || number != b.number || attempt != b.attempt + 1 || outputs.length != b.outputs.length) revert BadBatch();
            for (uint256 i = 0; i < outputs.length; i++) {
                if (outputs[i].id != b.outputs[i].id) revert BadBatch();
                b.outputs[i].valueSat = outputs[i].valueSat;
                ids[i] = outputs[i].id;
            }
        }
        b.open = true;
        b.attempt = attempt;
        b.feeRate = feeRate;
        b.btcHeight = btcHeight;
        b.changeSat = changeSat;
        b.feeSat = feeSat;
        b.attemptRates.push(feeRate);
        emit BatchOpened(number, attempt, feeRate, btcHeight, b.inputs.length, ids, changeSat, feeSat);
    }

    /// @notice Marks the open batch paid: its payout (attempt, txid in
    /// wire order) has the withdrawal confirmations in the view. SYSTEM
    /// only.
    function markPaid(uint64 number, uint32 attempt, bytes32 txid) external onlySystem {
        Layout storage l = _layout();
        Batch storage b = l.batch;
        if (!b.open || b.number != number || attempt > b.attempt) revert NoSuchBatch();
        for (uint256 i = 0; i < b.outputs.length; i++) {
            Item storage it = l.items[b.outputs[i].id];
            it.status = STATUS_PAID;
            l.pendingSat -= it.amountSat;
        }
        l.paidBy[txid] = number;
        l.paidTxid[number] = txid;
        if (b.refresh) {
            b.refreshFeesSat += b.feeSat;
        }
        b.open = false;
        _advance(l);
        emit BatchPaid(number, attempt, txid);
    }

    /// @notice Flags a spend of a vault output (txid in wire order, vout,
    /// amount) by spendTxid, which matches no batch attempt. When it spends
    /// an input of the open batch, that batch can never confirm: it is
    /// cancelled and its items go back to the queue. SYSTEM only.
    function flagVaultSpend(bytes32 spendTxid, bytes32 txid, uint32 vout, uint64 amountSat, bool cancel) external onlySystem {
        Layout storage l = _layout();
        l.flaggedSpend[spendTxid] = true;
        uint64 cancelled = 0;
        Batch storage b = l.batch;
        if (cancel && b.open) {
            for (uint256 i = 0; i < b.outputs.length; i++) {
                Item storage it = l.items[b.outputs[i].id];
                it.status = STATUS_QUEUED;
                it.batch = 0;
            }
            b.open = false;
            cancelled = b.number;
        }
        emit VaultSpendFlagged(spendTxid, txid, vout, amountSat, cancelled);
    }

    /// @notice Records that the vault's BTC (vaultSat, as of the view) is
    /// below what it owes (owedSat); a flag with vaultSat >= owedSat says
    /// the shortfall is over. SYSTEM only.
    function flagShortfall(uint64 vaultSat, uint64 owedSat) external onlySystem {
        Layout storage l = _layout();
        l.lastShortfall = owedSat > vaultSat ? owedSat - vaultSat : 0;
        emit ShortfallFlagged(vaultSat, owedSat);
    }

    function _advance(Layout storage l) private {
        uint64 i = l.firstPending;
        uint64 n = l.nextId;
        while (i < n && l.items[i].status == STATUS_PAID) {
            i++;
        }
        l.firstPending = i;
    }

    /// @notice The queue item id (a withdrawal or a refund).
    function item(uint64 id) external view returns (Item memory) {
        return _layout().items[id];
    }

    /// @notice The next id withdraw or a refund will get.
    function nextWithdrawalId() external view returns (uint64) {
        return _layout().nextId;
    }

    /// @notice The open (or last) batch.
    function batch() external view returns (Batch memory) {
        return _layout().batch;
    }

    /// @notice Bitmap of the signer indexes that posted for (batch, attempt).
    function posted(uint64 batchNumber, uint32 attempt) external view returns (uint256) {
        return _layout().posted[keccak256(abi.encodePacked(batchNumber, attempt))];
    }
}
