// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// BitcoinReader reads Bitcoin through the hVM precompiles (ABI v0, see
/// internal/hvm/doc.go) with plain staticcalls: 0x40 balance, 0x43
/// confirmations, 0x44 the view's header, 0x45 the header at a height,
/// 0x46 an address's output script. The view functions answer as of the
/// block they run on; record stores the answers of the block it is
/// included in so a test can compare them with the Bitcoin index.
contract BitcoinReader {
    /// Header is the 116-byte header record of 0x44 and 0x45, decoded.
    /// Hashes are in Bitcoin's display byte order.
    struct Header {
        uint32 height;
        bytes32 hash;
        uint32 version;
        bytes32 prevHash;
        bytes32 merkleRoot;
        uint32 time;
        uint32 bits;
        uint32 nonce;
    }

    uint64 public lastBalance;
    uint32 public lastConfirmations;
    uint32 public lastViewHeight;
    bytes32 public lastViewHash;
    bytes32 public lastHeaderHash;
    bytes public lastScript;
    uint256 public recordedAt;

    event Recorded(uint256 indexed l2Block, uint32 viewHeight, bytes32 viewHash, uint64 balance, uint32 confirmations);

    function balance(string calldata addr) public view returns (uint64) {
        bytes memory out = _call(address(0x40), bytes(addr));
        require(out.length == 8, "BitcoinReader: balance answer is not 8 bytes");
        return uint64(bytes8(_word(out, 0)));
    }

    function confirmations(bytes32 txid) public view returns (uint32) {
        bytes memory out = _call(address(0x43), abi.encodePacked(txid));
        require(out.length == 4, "BitcoinReader: unknown transaction");
        return uint32(bytes4(_word(out, 0)));
    }

    function viewHeader() public view returns (Header memory) {
        return _header(_call(address(0x44), ""));
    }

    function headerAt(uint32 height) public view returns (Header memory) {
        bytes memory out = _call(address(0x45), abi.encodePacked(height));
        require(out.length == 116, "BitcoinReader: no header at that height");
        return _header(out);
    }

    function script(string calldata addr) public view returns (bytes memory) {
        bytes memory out = _call(address(0x46), bytes(addr));
        require(out.length > 0, "BitcoinReader: invalid address");
        return out;
    }

    /// record stores what the precompiles answer in the block it runs in.
    function record(string calldata addr, bytes32 txid, uint32 height) external {
        Header memory v = viewHeader();
        lastBalance = balance(addr);
        lastConfirmations = confirmations(txid);
        lastViewHeight = v.height;
        lastViewHash = v.hash;
        lastHeaderHash = headerAt(height).hash;
        lastScript = script(addr);
        recordedAt = block.number;
        emit Recorded(block.number, v.height, v.hash, lastBalance, lastConfirmations);
    }

    function _call(address precompile, bytes memory input) internal view returns (bytes memory) {
        (bool ok, bytes memory out) = precompile.staticcall(input);
        require(ok, "BitcoinReader: precompile call failed");
        return out;
    }

    function _header(bytes memory r) internal pure returns (Header memory h) {
        require(r.length == 116, "BitcoinReader: header record is not 116 bytes");
        h.height = uint32(bytes4(_word(r, 0)));
        h.hash = _word(r, 4);
        h.version = uint32(bytes4(_word(r, 36)));
        h.prevHash = _word(r, 40);
        h.merkleRoot = _word(r, 72);
        h.time = uint32(bytes4(_word(r, 104)));
        h.bits = uint32(bytes4(_word(r, 108)));
        h.nonce = uint32(bytes4(_word(r, 112)));
    }

    /// _word is the 32 bytes of b's data at offset; bytes past b's end are
    /// whatever memory follows, so callers check the length and keep only
    /// the leading bytes that lie within it.
    function _word(bytes memory b, uint256 offset) internal pure returns (bytes32 w) {
        assembly {
            w := mload(add(add(b, 32), offset))
        }
    }
}
