// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title HVMState
/// @notice The Bitcoin view of the current Hemi L2 block, as storage.
/// @dev A predeploy (internal/chain/genesis): its runtime bytecode is placed
/// in the genesis state, no constructor runs. The first system transaction
/// of every block (from SYSTEM, derived by every node from the block's
/// Bitcoin view) calls setView; nobody else can write. Hashes are in
/// Bitcoin's display byte order, the order hVM precompile 0x44 returns and
/// block explorers print. The storage layout is part of consensus and read
/// directly by Go (genesis.ReadView): slot 0 hash, slot 1 prevHash, slot 2
/// merkleRoot, slot 3 packs height, version, time, bits, nonce (uint32 each,
/// from the low-order bytes up). Do not reorder the fields.
contract HVMState {
    /// @notice The only sender allowed to call setView: the system address
    /// Hemi's system transactions come from (no private key exists).
    address public constant SYSTEM = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    bytes32 private hash_;
    bytes32 private prevHash_;
    bytes32 private merkleRoot_;
    uint32 private height_;
    uint32 private version_;
    uint32 private time_;
    uint32 private bits_;
    uint32 private nonce_;

    /// @notice setView was called by an account other than SYSTEM.
    error NotSystem();

    /// @notice Replaces the stored view. SYSTEM only.
    function setView(
        uint32 height,
        bytes32 hash,
        uint32 version,
        bytes32 prevHash,
        bytes32 merkleRoot,
        uint32 time,
        uint32 bits,
        uint32 nonce
    ) external {
        if (msg.sender != SYSTEM) revert NotSystem();
        hash_ = hash;
        prevHash_ = prevHash;
        merkleRoot_ = merkleRoot;
        height_ = height;
        version_ = version;
        time_ = time;
        bits_ = bits;
        nonce_ = nonce;
    }

    /// @notice Height of the view's Bitcoin block.
    function bitcoinHeight() external view returns (uint32) {
        return height_;
    }

    /// @notice Hash of the view's Bitcoin block (display order).
    function bitcoinHash() external view returns (bytes32) {
        return hash_;
    }

    /// @notice The view's whole header, in the field order of hVM
    /// precompile 0x44's 116-byte record.
    function header()
        external
        view
        returns (
            uint32 height,
            bytes32 hash,
            uint32 version,
            bytes32 prevHash,
            bytes32 merkleRoot,
            uint32 time,
            uint32 bits,
            uint32 nonce
        )
    {
        return (height_, hash_, version_, prevHash_, merkleRoot_, time_, bits_, nonce_);
    }
}
