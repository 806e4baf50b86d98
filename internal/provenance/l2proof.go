package provenance

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/ethereum/go-ethereum/core/state"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/verify"
)

// proofNodes collects trie proof nodes (an ethdb.KeyValueWriter).
type proofNodes []hexutil.Bytes

func (p *proofNodes) Put(_, value []byte) error {
	*p = append(*p, append([]byte(nil), value...))
	return nil
}

func (p *proofNodes) Delete([]byte) error { return errors.New("provenance: proof: delete") }

// listProof proves item index of a derivable list (what DeriveSha hashes
// into a header root: key RLP(index), value the item's encoding) and
// checks the list's root is want.
func listProof(list types.DerivableList, index uint64, want common.Hash) ([]hexutil.Bytes, error) {
	tr := trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
	var buf bytes.Buffer
	for i := 0; i < list.Len(); i++ {
		buf.Reset()
		list.EncodeIndex(i, &buf)
		key, _ := rlp.EncodeToBytes(uint64(i))
		if err := tr.Update(key, common.CopyBytes(buf.Bytes())); err != nil {
			return nil, err
		}
	}
	if got := tr.Hash(); got != want {
		return nil, fmt.Errorf("provenance: the rebuilt trie's root %v is not the header's %v", got, want)
	}
	key, _ := rlp.EncodeToBytes(index)
	var out proofNodes
	if err := tr.Prove(key, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// txProof proves the transaction at loc and links its block to a's
// keystone block.
func (b *Builder) txProof(hash common.Hash, loc *chain.TxLocation, a *anchor) (*verify.TxProof, error) {
	c := b.cfg.Chain
	blk, err := c.BlockByHash(loc.BlockHash)
	if err != nil {
		return nil, fmt.Errorf("provenance: block %d: %w", loc.BlockNumber, err)
	}
	hdr, err := encodeHeader(blk.Header)
	if err != nil {
		return nil, err
	}
	out := &verify.TxProof{Hash: hash, Header: hdr, Index: loc.Index}
	if out.TxProof, err = listProof(blk.Body.TxList(), loc.Index, blk.Header.TxHash); err != nil {
		return nil, fmt.Errorf("provenance: transactions of block %d: %w", loc.BlockNumber, err)
	}
	receipts, err := c.Receipts(loc.BlockHash)
	if err != nil {
		return nil, fmt.Errorf("provenance: receipts of block %d: %w", loc.BlockNumber, err)
	}
	if out.ReceiptProof, err = listProof(block.ReceiptList(receipts), loc.Index, blk.Header.ReceiptHash); err != nil {
		return nil, fmt.Errorf("provenance: receipts of block %d: %w", loc.BlockNumber, err)
	}
	link, err := b.link(blk.Header, a.header)
	if err != nil {
		return nil, err
	}
	out.Link = *link
	return out, nil
}

// link connects block h to keystone block k (h at or below k, on k's
// branch): the same block, the headers between, or an EIP-2935 proof.
func (b *Builder) link(h, k *types.Header) (*verify.Link, error) {
	hn, kn := h.Number.Uint64(), k.Number.Uint64()
	switch {
	case hn > kn:
		return nil, fmt.Errorf("provenance: block %d is above its keystone block %d", hn, kn)
	case hn == kn:
		if h.Hash() != k.Hash() {
			return nil, fmt.Errorf("provenance: block %d is not the keystone block", hn)
		}
		return &verify.Link{Kind: verify.LinkSame}, nil
	case kn-hn <= b.cfg.HeaderLinkMax || kn-hn > historyWindow:
		// Headers from k's parent down to h's child, walking k's branch.
		var hs []hexutil.Bytes
		cur := k
		for cur.Number.Uint64() > hn+1 {
			p, err := b.cfg.Chain.HeaderByHash(cur.ParentHash)
			if err != nil {
				return nil, fmt.Errorf("provenance: block %d: %w", cur.Number.Uint64()-1, err)
			}
			enc, err := encodeHeader(p)
			if err != nil {
				return nil, err
			}
			hs = append(hs, enc)
			cur = p
		}
		if cur.ParentHash != h.Hash() {
			return nil, fmt.Errorf("provenance: block %d is not an ancestor of keystone block %d", hn, kn)
		}
		for i, j := 0, len(hs)-1; i < j; i, j = i+1, j-1 {
			hs[i], hs[j] = hs[j], hs[i]
		}
		if hs == nil {
			hs = []hexutil.Bytes{}
		}
		return &verify.Link{Kind: verify.LinkHeaders, Headers: hs}, nil
	}
	st, err := b.cfg.Chain.StateAt(k.Root)
	if err != nil {
		return nil, fmt.Errorf("provenance: state of keystone block %d: %w", kn, err)
	}
	slot := common.BigToHash(new(bigInt).SetUint64(hn % historyWindow))
	if got := st.GetState(params.HistoryStorageAddress, slot); got != h.Hash() {
		return nil, fmt.Errorf("provenance: the keystone's EIP-2935 history holds %v for block %d, not %v", got, hn, h.Hash())
	}
	acc, sto, err := storageProofs(st, k.Root, params.HistoryStorageAddress, []common.Hash{slot})
	if err != nil {
		return nil, err
	}
	return &verify.Link{Kind: verify.LinkHistory, AccountProof: acc, StorageProof: sto[0]}, nil
}

// storageProofs are EIP-1186 proofs: addr's account against root and
// each slot against the account's storage root.
func storageProofs(st stateProver, root common.Hash, addr common.Address, slots []common.Hash) ([]hexutil.Bytes, [][]hexutil.Bytes, error) {
	tr, err := st.Database().OpenTrie(root)
	if err != nil {
		return nil, nil, err
	}
	var acc proofNodes
	if err := tr.Prove(crypto.Keccak256(addr.Bytes()), &acc); err != nil {
		return nil, nil, err
	}
	sroot := st.GetStorageRoot(addr)
	str, err := st.Database().OpenStorageTrie(root, addr, sroot, nil)
	if err != nil {
		return nil, nil, err
	}
	out := make([][]hexutil.Bytes, len(slots))
	for i, s := range slots {
		var p proofNodes
		if err := str.Prove(crypto.Keccak256(s.Bytes()), &p); err != nil {
			return nil, nil, err
		}
		out[i] = p
	}
	return acc, out, nil
}

func encodeHeader(h *types.Header) (hexutil.Bytes, error) {
	return rlp.EncodeToBytes(h)
}

type bigInt = big.Int

// stateProver is the part of *state.StateDB storageProofs uses.
type stateProver interface {
	Database() state.Database
	GetStorageRoot(addr common.Address) common.Hash
}
