package rpc

import (
	"errors"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/verify"
)

// Provenance builds provenance bundles (DESIGN 8);
// *provenance.Builder implements it (asserted by the assembly).
//
// Concurrency: called from many request goroutines at once. Errors carry
// messages meant for the user (a bundle that cannot exist yet says when
// to ask again); they are answered as server errors with that message.
type Provenance interface {
	Tx(hash common.Hash) (*verify.Bundle, error)
	Deposit(txid chainhash.Hash, vout uint32) (*verify.Bundle, error)
}

// ErrNoProvenance: the node builds no provenance bundles.
var ErrNoProvenance = errors.New("this node builds no provenance bundles")

// GetProvenance is hemi_getProvenance(what): the provenance bundle
// (format 1, verify.Bundle) of an L2 transaction, named by its 0x hash,
// or of a tunnel deposit, named "txid:vout" (txid in display order).
func (api *hemiAPI) GetProvenance(what string) (*verify.Bundle, error) {
	p := api.s.cfg.Provenance
	if p == nil {
		return nil, &rpcError{code: codeServer, msg: ErrNoProvenance.Error(), err: ErrNoProvenance}
	}
	var (
		b   *verify.Bundle
		err error
	)
	if txid, vout, ok := strings.Cut(what, ":"); ok {
		h, herr := chainhash.NewHashFromStr(txid)
		v, verr := strconv.ParseUint(vout, 10, 32)
		if herr != nil || len(txid) != 64 || verr != nil {
			return nil, invalidParams("deposit %q: want txid:vout (64 hex digits, a decimal output index)", what)
		}
		b, err = p.Deposit(*h, uint32(v))
	} else {
		if len(what) != 66 || !strings.HasPrefix(what, "0x") {
			return nil, invalidParams("%q: want an L2 transaction hash (0x and 64 hex digits) or a deposit txid:vout", what)
		}
		h := common.HexToHash(what)
		if h.Hex() != strings.ToLower(what) {
			return nil, invalidParams("%q is not a hex hash", what)
		}
		b, err = p.Tx(h)
	}
	if err != nil {
		return nil, &rpcError{code: codeServer, msg: err.Error(), err: err}
	}
	return b, nil
}
