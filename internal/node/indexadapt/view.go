package indexadapt

import (
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/hvm"
)

var _ hvm.BitcoinView = (*View)(nil)

// View is an hvm.BitcoinView over the Bitcoin index, pinned to one block
// hash. The index keeps every entry of every block it ever connected
// (index invariant 2), so the view answers the same after that block is
// reorged out. Safe for concurrent use.
type View struct {
	ix  *index.Index
	tip hvm.Header

	mu  sync.Mutex
	err error // first failure, see Err
}

// NewView pins a view of ix to block hash, which must be indexed. A
// block this node connected at some point always is, also after a reorg;
// a block of a fork it stored but never followed gives index.ErrNotIndexed
// until ix.IndexFork(hash) has indexed that fork. The zero hash is refused:
// it would mean "the current tip", which moves and breaks re-execution.
func NewView(ix *index.Index, hash chainhash.Hash) (*View, error) {
	if ix == nil {
		return nil, errors.New("indexadapt: NewView: nil index")
	}
	if hash == (chainhash.Hash{}) {
		return nil, errors.New("indexadapt: NewView: zero block hash; pin the view to the block's Bitcoin view hash")
	}
	hi, err := ix.HeaderByHash(hash, hash)
	if err != nil {
		return nil, fmt.Errorf("hvm: bitcoin view %s: %w", hash, err)
	}
	return &View{ix: ix, tip: hvm.Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}}, nil
}

// Err returns the first failure of the view (nil if none). A block or call
// executed through a view with a non-nil Err saw empty answers where the
// index failed: the block processor must discard that execution, not
// commit it, and retry once the index is healthy.
func (v *View) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// check maps an index error: not-found kinds wrap hvm.ErrNotFound,
// anything else is recorded as the view's failure and returned wrapping
// hvm.ErrView.
func (v *View) check(what string, err error) error {
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("%s: %w: %w", what, hvm.ErrNotFound, err)
	}
	err = fmt.Errorf("%w: %s as of %s: %w", hvm.ErrView, what, v.tip.Hash, err)
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
	return err
}

// Tip returns the view's block.
func (v *View) Tip() hvm.Header { return v.tip }

// HeaderByHeight returns the header at height in the view's chain.
func (v *View) HeaderByHeight(height int32) (hvm.Header, error) {
	if height < 0 || height > v.tip.Height {
		return hvm.Header{}, fmt.Errorf("header at height %d (view height %d): %w", height, v.tip.Height, hvm.ErrNotFound)
	}
	hi, err := v.ix.HeaderByHeight(height, v.tip.Hash)
	if err != nil {
		return hvm.Header{}, v.check(fmt.Sprintf("header at height %d", height), err)
	}
	return hvm.Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}, nil
}

// Tx returns transaction txid as of the view.
func (v *View) Tx(txid chainhash.Hash) (hvm.Tx, error) {
	ti, err := v.ix.TxByID(txid, v.tip.Hash)
	if err != nil {
		return hvm.Tx{}, v.check("tx "+txid.String(), err)
	}
	return hvm.Tx{Tx: ti.Tx, BlockHash: ti.BlockHash, Height: ti.Height}, nil
}

// Spent reports whether op is spent as of the view.
func (v *View) Spent(op wire.OutPoint) (bool, error) {
	_, err := v.ix.SpendOf(op, v.tip.Hash)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, index.ErrNotFound):
		return false, nil
	default:
		return false, v.check("spend of "+op.String(), err)
	}
}

// Balance returns the unspent value paying script as of the view.
func (v *View) Balance(script []byte) (int64, error) {
	b, err := v.ix.Balance(script, v.tip.Hash)
	if err != nil {
		return 0, v.check("balance", err)
	}
	return b, nil
}

// UTXOs returns one page of unspent outputs paying script as of the view.
func (v *View) UTXOs(script []byte, page, pageSize int) ([]hvm.UTXO, error) {
	us, err := v.ix.UTXOs(script, page, pageSize, v.tip.Hash)
	if err != nil {
		return nil, v.check("utxos", err)
	}
	out := make([]hvm.UTXO, len(us))
	for i, u := range us {
		out[i] = hvm.UTXO{Outpoint: u.Outpoint, Value: u.Value}
	}
	return out, nil
}
