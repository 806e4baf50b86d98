package pop

import "github.com/ethereum/go-ethereum/common"

// L2Keystone is an L2 keystone block (DESIGN 4): its number and hash with
// its abbreviated form K and K's id. It is the one type the chain hands
// out, finality tracks and the PoP miner publishes and persists, so the
// three agree on what a keystone is; the JSON tags are the PoP miner's
// state file format (a state written before PrevID existed reads it as
// zero, which the miner does not use).
type L2Keystone struct {
	Number uint64      `json:"number"`
	Hash   common.Hash `json:"hash"` // the keystone block's hash
	ID     [32]byte    `json:"id"`   // K.ID()
	K      Keystone    `json:"k"`
	// PrevID is the id of the previous keystone of the same branch; zero
	// for the first keystone (whose predecessor is the genesis, which is
	// not a keystone) and where the source does not say.
	PrevID [32]byte `json:"prev_id"`
}
