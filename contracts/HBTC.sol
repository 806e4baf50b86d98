// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title HBTC
/// @notice hBTC, the tunnel's Bitcoin on the Hemi L2 (DESIGN 6): an ERC-20
/// with 8 decimals, 1 hBTC = 1 BTC, so one token unit is one satoshi.
/// Minted only by deposit system transactions through the Tunnel
/// predeploy, burned only by the Tunnel's withdrawals.
/// @dev A predeploy (internal/chain/genesis): its runtime bytecode is placed
/// in the genesis state, no constructor runs, and the genesis writes the
/// Tunnel predeploy's address into slot 3. The storage layout is part of
/// consensus and read by Go (internal/tunnel/l2abi.go): slot 0 totalSupply,
/// slot 1 balanceOf (mapping), slot 2 allowance (mapping of mappings),
/// slot 3 tunnel. Do not reorder the fields. The ERC-20 behaviour is
/// OpenZeppelin 5's: the ERC-6093 errors, transfers to or from the zero
/// address refused, an allowance of type(uint256).max never decreases, and
/// transferFrom emits Transfer only.
contract HBTC {
    string public constant name = "Hemi Bitcoin";
    string public constant symbol = "hBTC";
    uint8 public constant decimals = 8;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// @notice The Tunnel predeploy, the only minter and burner (set at genesis).
    address public tunnel;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error ERC20InvalidSender(address sender);
    error ERC20InvalidReceiver(address receiver);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error ERC20InvalidApprover(address approver);
    error ERC20InvalidSpender(address spender);
    /// @notice mint or burn called by an account other than the Tunnel.
    error NotTunnel();

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    /// @notice Mints value to `to`. Tunnel only. It cannot revert for the
    /// Tunnel: the supply is a sum of uint64 satoshi amounts, far below
    /// 2^256, and no hook calls the recipient.
    function mint(address to, uint256 value) external {
        if (msg.sender != tunnel) revert NotTunnel();
        totalSupply += value;
        unchecked {
            balanceOf[to] += value; // <= totalSupply
        }
        emit Transfer(address(0), to, value);
    }

    /// @notice Burns value from `from`. Tunnel only (a withdrawal).
    function burn(address from, uint256 value) external {
        if (msg.sender != tunnel) revert NotTunnel();
        uint256 bal = balanceOf[from];
        if (bal < value) revert ERC20InsufficientBalance(from, bal, value);
        unchecked {
            balanceOf[from] = bal - value;
            totalSupply -= value;
        }
        emit Transfer(from, address(0), value);
    }

    function _transfer(address from, address to, uint256 value) private {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 bal = balanceOf[from];
        if (bal < value) revert ERC20InsufficientBalance(from, bal, value);
        unchecked {
            balanceOf[from] = bal - value;
            balanceOf[to] += value; // sum of balances = totalSupply
        }
        emit Transfer(from, to, value);
    }
}
