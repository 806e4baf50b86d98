package bench

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// BenchTokenSource is the ERC-20 the l2-import benchmark transfers: the
// smallest token with ERC-20's transfer semantics and Transfer event. Its
// balances live in slot 0 (balanceOf[a] at keccak256(a . 0)), so a
// genesis alloc can fund holders by writing storage.
const BenchTokenSource = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

// BenchToken is the minimal ERC-20 of ` + "`hemi bench l2-import`" + `: balances in
// slot 0 (balanceOf[a] at keccak256(a . 0)), funded by the genesis alloc.
contract BenchToken {
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    function transfer(address to, uint256 value) external returns (bool) {
        uint256 bal = balanceOf[msg.sender];
        require(bal >= value, "insufficient balance");
        unchecked {
            balanceOf[msg.sender] = bal - value;
        }
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}
`

// benchTokenRuntimeHex is BenchTokenSource's runtime bytecode from solc-js
// 0.8.28 (the version scripts/install-tools.sh pins) with the settings of
// scripts/gen-predeploys.sh: optimizer on, 200 runs, EVM version cancun,
// no metadata hash or CBOR trailer. TestBenchTokenBytecode recompiles the
// source when node and solc-js are installed and compares.
const benchTokenRuntimeHex = "608060405234801561000f575f5ffd5b5060043610610034575f3560e01c806370a0823114610038578063a9059cbb1461006a575b5f5ffd5b610057610046366004610185565b5f6020819052908152604090205481565b6040519081526020015b60405180910390f35b61007d6100783660046101a5565b61008d565b6040519015158152602001610061565b335f90815260208190526040812054828110156100e75760405162461bcd60e51b8152602060048201526014602482015273696e73756666696369656e742062616c616e636560601b604482015260640160405180910390fd5b335f9081526020819052604080822085840390556001600160a01b0386168252812080548592906101199084906101cd565b90915550506040518381526001600160a01b0385169033907fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef9060200160405180910390a360019150505b92915050565b80356001600160a01b0381168114610180575f5ffd5b919050565b5f60208284031215610195575f5ffd5b61019e8261016a565b9392505050565b5f5f604083850312156101b6575f5ffd5b6101bf8361016a565b946020939093013593505050565b8082018082111561016457634e487b7160e01b5f52601160045260245ffd"

// BenchTokenAddress is where both importers' genesis deploys BenchToken.
var BenchTokenAddress = common.HexToAddress("0xb3c4000000000000000000000000000000000020")

// BenchTokenCode returns BenchToken's runtime bytecode.
func BenchTokenCode() []byte { return common.FromHex(benchTokenRuntimeHex) }

// tokenBalanceSlot is the storage slot of balanceOf[holder]: Solidity's
// mapping layout, keccak256(leftpad32(holder) . leftpad32(0)).
func tokenBalanceSlot(holder common.Address) common.Hash {
	var buf [64]byte
	copy(buf[12:32], holder[:])
	return crypto.Keccak256Hash(buf[:])
}

// tokenTransferSelector is transfer(address,uint256)'s selector.
var tokenTransferSelector = crypto.Keccak256([]byte("transfer(address,uint256)"))[:4]

// tokenTransferData is the calldata of transfer(to, value).
func tokenTransferData(to common.Address, value *big.Int) []byte {
	data := make([]byte, 4+32+32)
	copy(data, tokenTransferSelector)
	copy(data[4+12:36], to[:])
	value.FillBytes(data[36:68])
	return data
}
