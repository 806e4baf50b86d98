package verifytest

import (
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/vault"
)

var (
	systemAddress  = common.HexToAddress("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001")
	historyAddress = common.HexToAddress("0x0000F90827F1C53a10cb7A02335B175320002935")
)

// systemTxRLP is the 0x7E envelope's fields (internal/chain/block).
type systemTxRLP struct {
	SourceHash common.Hash
	From       common.Address
	To         *common.Address `rlp:"nil"`
	Mint       *big.Int        `rlp:"nil"`
	Value      *big.Int
	Gas        uint64
	IsSystemTx bool
	Data       []byte
}

func sourceHash(domain uint64, h [32]byte, index uint64) common.Hash {
	var inner [64]byte
	copy(inner[:32], h[:])
	binary.BigEndian.PutUint64(inner[56:], index)
	var outer [64]byte
	binary.BigEndian.PutUint64(outer[24:32], domain)
	copy(outer[32:], crypto.Keccak256(inner[:]))
	return crypto.Keccak256Hash(outer[:])
}

func (f *Forged) build(spec Spec) error {
	btc := newBTC(f.params)
	for i := range 3 {
		btc.mine(filler(i))
	}
	id := f.Identity
	var depTx *wire.MsgTx
	if spec.Kind == verify.KindDeposit {
		script := spec.VaultScript
		if script == nil {
			t := id.Tunnel
			v, err := vault.Derive(vault.Keys{Signers: t.Signers, K: t.K, Recovery: t.Recovery, M: t.M, RecoveryDelay: t.RecoveryDelay})
			if err != nil {
				return err
			}
			script = v.Script
		}
		depTx = wire.NewMsgTx(2)
		depTx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.DoubleHashH([]byte("treasury")), Index: 1}, Sequence: 0xfffffffd})
		depTx.AddTxOut(&wire.TxOut{Value: spec.DepositSat, PkScript: script})
		depTx.AddTxOut(&wire.TxOut{Value: 0, PkScript: append([]byte{txscript.OP_RETURN, 20}, Recipient[:]...)})
		btc.mine(filler(10), depTx, filler(11))
		f.DepositHeight = btc.height
		f.PoPHeight = f.DepositHeight + int32(spec.DepositConfs-spec.KeystoneConfs)
		if f.PoPHeight <= f.DepositHeight {
			return fmt.Errorf("verifytest: the publication must come after the deposit")
		}
	} else {
		f.PoPHeight = btc.height + 1
	}
	for btc.height < f.PoPHeight-1 {
		btc.mine(filler(int(btc.height) + 100))
	}
	viewHeight, viewHash := uint32(btc.height), btc.tip

	// L2 blocks B (the transaction) .. K (the keystone).
	k := spec.Interval
	bn := k - spec.Distance
	var txs, receipts [][]byte
	var mintHash common.Hash
	depIndex := uint64(0)
	if depTx != nil {
		to := TunnelAddress
		stx := systemTxRLP{SourceHash: sourceHash(0x101, depTx.TxHash(), 0), From: systemAddress, To: &to, Value: new(big.Int), Gas: 100_000,
			Data: append(crypto.Keccak256([]byte("mint(bytes32,uint32,address,uint64)"))[:4], Recipient[:]...)}
		enc, _ := rlp.EncodeToBytes(&stx)
		enc = append([]byte{0x7E}, enc...)
		mintHash = crypto.Keccak256Hash(enc)
		txs = append(txs, enc)
		r := &types.Receipt{Type: 0x7E, Status: 1, CumulativeGasUsed: 60_000, Logs: []*types.Log{}}
		rb, _ := r.MarshalBinary()
		receipts = append(receipts, rb)
	}
	user, err := types.SignNewTx(keyOf("verifytest user"), types.LatestSignerForChainID(new(big.Int).SetUint64(id.ChainID)),
		&types.DynamicFeeTx{ChainID: new(big.Int).SetUint64(id.ChainID), Nonce: 0, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(1e10),
			Gas: 21000, To: &Recipient, Value: big.NewInt(1e18)})
	if err != nil {
		return err
	}
	ub, _ := user.MarshalBinary()
	userIndex := uint64(len(txs))
	txs = append(txs, ub)
	ur := &types.Receipt{Type: 2, Status: 1, CumulativeGasUsed: 81_000, Logs: []*types.Log{}}
	urb, _ := ur.MarshalBinary()
	receipts = append(receipts, urb)
	txTrie, rcTrie := listTrie(txs), listTrie(receipts)

	header := func(n uint64, parent common.Hash) *types.Header {
		return &types.Header{ParentHash: parent, UncleHash: types.EmptyUncleHash, Root: crypto.Keccak256Hash([]byte(fmt.Sprint("root", n))),
			TxHash: types.EmptyTxsHash, ReceiptHash: types.EmptyReceiptsHash, Difficulty: new(big.Int), Number: new(big.Int).SetUint64(n),
			GasLimit: 30_000_000, Time: 1_700_000_000 + 2*n, MixDigest: common.Hash(viewHash), BaseFee: big.NewInt(1e9),
			WithdrawalsHash: &types.EmptyWithdrawalsHash, BlobGasUsed: new(uint64), ExcessBlobGas: new(uint64),
			ParentBeaconRoot: &common.Hash{}, RequestsHash: &types.EmptyRequestsHash}
	}
	hb := header(bn, crypto.Keccak256Hash([]byte("parent of B")))
	hb.TxHash, hb.ReceiptHash, hb.GasUsed = txTrie.t.Hash(), rcTrie.t.Hash(), 81_000
	sealHeader(hb, viewHeight, viewHash, f.seqKey)
	chainHs := []*types.Header{hb}
	for n := bn + 1; n <= k; n++ {
		h := header(n, chainHs[len(chainHs)-1].Hash())
		chainHs = append(chainHs, h)
		if n < k {
			sealHeader(h, viewHeight, viewHash, f.seqKey)
		}
	}
	// The keystone's state: filler accounts, the history contract
	// holding B..K-1, the tunnel's minted[] record.
	state := newTrie()
	for i := range spec.FillerAccounts {
		a := crypto.Keccak256([]byte(fmt.Sprint("filler account", i)))
		state.put(a, accountRLP(common.BytesToHash(crypto.Keccak256(a))))
	}
	hist := &storage{newTrie()}
	for _, h := range chainHs[:len(chainHs)-1] {
		hist.set(common.BigToHash(new(big.Int).SetUint64(h.Number.Uint64()%8191)), h.Hash())
	}
	state.put(crypto.Keccak256(historyAddress[:]), accountRLP(hist.t.t.Hash()))
	var tun *storage
	var s0, s1 common.Hash
	if depTx != nil {
		tun = &storage{newTrie()}
		s0, s1 = verify.MintedSlots(verify.DepositKey(depTx.TxHash(), 0))
		var w0, w1 common.Hash
		copy(w0[12:], Recipient[:])
		binary.BigEndian.PutUint64(w0[4:12], uint64(spec.DepositSat))
		binary.BigEndian.PutUint64(w1[24:], bn)
		tun.set(s0, w0)
		tun.set(s1, w1)
		tun.set(common.Hash{0x01}, common.Hash{0x02}) // another slot, as a real contract has
		state.put(crypto.Keccak256(TunnelAddress[:]), accountRLP(tun.t.t.Hash()))
	}
	hk := chainHs[len(chainHs)-1]
	hk.Root = state.t.Hash()
	kkey := f.seqKey
	if spec.KeystoneKey != nil {
		kkey = spec.KeystoneKey
	}
	sealHeader(hk, viewHeight, viewHash, kkey)

	// The PoP transaction publishing K.
	var ks [76]byte
	ks[0] = 1
	binary.BigEndian.PutUint32(ks[1:5], viewHeight)
	binary.BigEndian.PutUint32(ks[5:9], uint32(k))
	copy(ks[9:20], hk.ParentHash[:11])
	copy(ks[20:32], crypto.Keccak256([]byte("previous keystone"))[:12])
	copy(ks[32:64], hk.Root[:])
	khash := hk.Hash()
	copy(ks[64:76], khash[:12])
	popTx := wire.NewMsgTx(2)
	popTx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.DoubleHashH([]byte("pop miner")), Index: 0}, Sequence: 0xfffffffd})
	popTx.AddTxOut(&wire.TxOut{Value: 0, PkScript: append([]byte{txscript.OP_RETURN, txscript.OP_PUSHDATA1, 0x50, 'H', 'E', 'M', 'I'}, ks[:]...)})
	popTx.AddTxOut(&wire.TxOut{Value: 90_000, PkScript: append([]byte{0x00, 0x14}, make([]byte, 20)...)})
	popBlock := btc.mine(filler(500), filler(501), popTx)
	for range spec.KeystoneConfs - 1 {
		btc.mine(filler(int(btc.height) + 1000))
	}
	f.blocks = btc.blocks
	headers := Headers(btc.blocks)
	f.Headers = make([][]byte, len(headers))
	for i, h := range headers {
		f.Headers[i] = h
	}

	enc := func(h *types.Header) hexutil.Bytes { b, _ := rlp.EncodeToBytes(h); return b }
	link := verify.Link{Kind: verify.LinkHeaders, Headers: []hexutil.Bytes{}}
	switch {
	case spec.Distance == 0:
		link = verify.Link{Kind: verify.LinkSame}
	case spec.Distance > spec.HeaderLinkMax:
		slot := common.BigToHash(new(big.Int).SetUint64(bn % 8191))
		link = verify.Link{Kind: verify.LinkHistory, AccountProof: state.prove(crypto.Keccak256(historyAddress[:])),
			StorageProof: hist.t.prove(crypto.Keccak256(slot[:]))}
	default:
		for _, h := range chainHs[1 : len(chainHs)-1] {
			link.Headers = append(link.Headers, enc(h))
		}
	}
	b := &verify.Bundle{Version: verify.Version, Kind: spec.Kind, ChainID: id.ChainID, BitcoinNetwork: "regtest",
		Bitcoin: verify.HeaderRun{Checkpoint: verify.BlockRef{Height: 0, Hash: f.params.GenesisHash.String()},
			Anchor: Headers([]*wire.MsgBlock{f.params.GenesisBlock}), Headers: headers},
		PoP:      verify.PoPProof{TxInBlock: txInBlock(popBlock, f.PoPHeight, 3), Vout: 0},
		Keystone: verify.KeystoneProof{Header: enc(hk)}}
	txProof := func(i uint64, hash common.Hash) verify.TxProof {
		return verify.TxProof{Hash: hash, Header: enc(hb), Index: i, TxProof: txTrie.prove(indexKey(i)), ReceiptProof: rcTrie.prove(indexKey(i)), Link: link}
	}
	if depTx == nil {
		tp := txProof(userIndex, user.Hash())
		b.Tx = &tp
	} else {
		db := f.blocks[f.DepositHeight-1]
		b.Deposit = &verify.DepositProof{Bitcoin: txInBlock(db, f.DepositHeight, 2), Vout: 0, Mint: txProof(depIndex, mintHash),
			AccountProof:  state.prove(crypto.Keccak256(TunnelAddress[:])),
			StorageProofs: [][]hexutil.Bytes{tun.t.prove(crypto.Keccak256(s0[:])), tun.t.prove(crypto.Keccak256(s1[:]))}}
	}
	f.Bundle = b
	return nil
}

// Blocks are the forged Bitcoin blocks, heights 1 on.
func (f *Forged) Blocks() []*wire.MsgBlock { return f.blocks }

// Fork mines n blocks on top of height (a block of the run, 0 the
// genesis), each with a coinbase only, and returns their headers: a
// competing branch for --headers tests.
func (f *Forged) Fork(height int32, n int) [][]byte {
	c := newBTC(f.params)
	if height > 0 {
		b := f.blocks[height-1]
		c.tip, c.time, c.height = b.BlockHash(), b.Header.Timestamp.Add(7*time.Second), height
	}
	out := make([][]byte, 0, n)
	for range n {
		b := c.mine(filler(int(c.height) + 7777))
		out = append(out, Headers([]*wire.MsgBlock{b})[0])
	}
	return out
}

// OtherKey is a seal key of another chain.
func OtherKey() *ecdsa.PrivateKey { return keyOf("another chain's sequencer") }
