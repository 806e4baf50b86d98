package hvm

import (
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
)

var _ BitcoinView = (*IndexView)(nil)

// ErrView wraps every failure an IndexView records: the index could not
// answer (I/O, corruption, closed), which is not the same as "not found".
var ErrView = errors.New("hvm: bitcoin view failed")

// IndexView is a BitcoinView over the Bitcoin index, pinned to one block
// hash. The index keeps every entry of every block it ever connected
// (index invariant 2), so the view answers the same after that block is
// reorged out. Safe for concurrent use.
type IndexView struct {
	ix  *index.Index
	tip Header

	mu  sync.Mutex
	err error // first failure, see Err
}

// NewIndexView pins a view of ix to block hash, which must be indexed. A
// block this node connected at some point always is, also after a reorg;
// a block of a fork it stored but never followed gives index.ErrNotIndexed
// until ix.IndexFork(hash) has indexed that fork. The zero hash is refused:
// it would mean "the current tip", which moves and breaks re-execution.
func NewIndexView(ix *index.Index, hash chainhash.Hash) (*IndexView, error) {
	if ix == nil {
		return nil, errors.New("hvm: NewIndexView: nil index")
	}
	if hash == (chainhash.Hash{}) {
		return nil, errors.New("hvm: NewIndexView: zero block hash; pin the view to the block's Bitcoin view hash")
	}
	hi, err := ix.HeaderByHash(hash, hash)
	if err != nil {
		return nil, fmt.Errorf("hvm: bitcoin view %s: %w", hash, err)
	}
	return &IndexView{ix: ix, tip: Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}}, nil
}

// Err returns the first failure of the view (nil if none). A block or call
// executed through a view with a non-nil Err saw empty answers where the
// index failed: the block processor must discard that execution, not
// commit it, and retry once the index is healthy.
func (v *IndexView) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// check maps an index error: not-found kinds wrap ErrNotFound, anything
// else is recorded as the view's failure and returned wrapping ErrView.
func (v *IndexView) check(what string, err error) error {
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("%s: %w: %w", what, ErrNotFound, err)
	}
	err = fmt.Errorf("%w: %s as of %s: %w", ErrView, what, v.tip.Hash, err)
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
	return err
}

// Tip returns the view's block.
func (v *IndexView) Tip() Header { return v.tip }

// HeaderByHeight returns the header at height in the view's chain.
func (v *IndexView) HeaderByHeight(height int32) (Header, error) {
	if height < 0 || height > v.tip.Height {
		return Header{}, fmt.Errorf("header at height %d (view height %d): %w", height, v.tip.Height, ErrNotFound)
	}
	hi, err := v.ix.HeaderByHeight(height, v.tip.Hash)
	if err != nil {
		return Header{}, v.check(fmt.Sprintf("header at height %d", height), err)
	}
	return Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}, nil
}

// Tx returns transaction txid as of the view.
func (v *IndexView) Tx(txid chainhash.Hash) (Tx, error) {
	ti, err := v.ix.TxByID(txid, v.tip.Hash)
	if err != nil {
		return Tx{}, v.check("tx "+txid.String(), err)
	}
	return Tx{Tx: ti.Tx, BlockHash: ti.BlockHash, Height: ti.Height}, nil
}

// Spent reports whether op is spent as of the view.
func (v *IndexView) Spent(op wire.OutPoint) (bool, error) {
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
func (v *IndexView) Balance(script []byte) (int64, error) {
	b, err := v.ix.Balance(script, v.tip.Hash)
	if err != nil {
		return 0, v.check("balance", err)
	}
	return b, nil
}

// UTXOs returns one page of unspent outputs paying script as of the view.
func (v *IndexView) UTXOs(script []byte, page, pageSize int) ([]UTXO, error) {
	us, err := v.ix.UTXOs(script, page, pageSize, v.tip.Hash)
	if err != nil {
		return nil, v.check("utxos", err)
	}
	out := make([]UTXO, len(us))
	for i, u := range us {
		out[i] = UTXO{Outpoint: u.Outpoint, Value: u.Value}
	}
	return out, nil
}
