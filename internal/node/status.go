package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// Status is what `GET /status` answers and `hemi status` prints: one
// screen of what an operator checks first. Its JSON field names are the
// API (monitoring reads them); add fields, never rename them.
type Status struct {
	ChainID uint64 `json:"chain_id"`
	// Role is "sequencer" (this node seals blocks) or "follower".
	Role string `json:"role"`
	// Healthy is what /healthz answers; Problems says why not.
	Healthy  bool     `json:"healthy"`
	Problems []string `json:"problems,omitempty"`

	Head      BlockRef  `json:"head"`
	Safe      *BlockRef `json:"safe"`
	Finalized *BlockRef `json:"finalized"`
	// View is the head's Bitcoin view (DESIGN 3.4).
	View    BitcoinRef    `json:"view"`
	Bitcoin BitcoinStatus `json:"bitcoin"`
	// LastKeystone is the newest keystone at or below the head with its
	// Bitcoin publication (nil before the first keystone).
	LastKeystone *KeystoneStatus `json:"last_keystone"`
	// Peers are the L2 peers (empty without L2 networking).
	Peers []Peer `json:"peers"`
	// Raft is the sequencer group's view (nil without one).
	Raft *Raft `json:"raft"`
}

// BlockRef names an L2 block.
type BlockRef struct {
	Number uint64      `json:"number"`
	Hash   common.Hash `json:"hash"`
	// Time is the block's timestamp (Unix seconds); AgeSeconds how long
	// ago that was when the status was taken.
	Time       uint64 `json:"time,omitempty"`
	AgeSeconds int64  `json:"age_s,omitempty"`
}

// BitcoinRef names a Bitcoin block (hash in display order).
type BitcoinRef struct {
	Height int32  `json:"height"`
	Hash   string `json:"hash"`
}

// BitcoinStatus is the node's Bitcoin layer: Tip is the best header its
// peers announced, Indexed the block tip of its index, Lag the blocks
// between them.
type BitcoinStatus struct {
	Network string     `json:"network"`
	Tip     BitcoinRef `json:"tip"`
	Indexed BitcoinRef `json:"indexed"`
	Lag     int32      `json:"lag"`
	Peers   int        `json:"peers"`
	Synced  bool       `json:"synced"`
}

// KeystoneStatus is a keystone and its effective publication.
type KeystoneStatus struct {
	Number        uint64      `json:"number"`
	Hash          common.Hash `json:"hash"`
	Published     bool        `json:"published"`
	Confirmations uint32      `json:"confirmations"`
	Superfinal    bool        `json:"superfinal"`
	// Depth is the superfinality depth the confirmations count toward.
	Depth uint32 `json:"depth"`
}

// Peer is one L2 peer as the networking service sees it (netp2p):
// Ready once the handshake agreed on the genesis, Head the newest head it
// announced or relayed, Score its gossip score (0 clean; banned at
// netp2p.BanScore).
type Peer struct {
	ID        string `json:"id"`
	Addr      string `json:"addr"`
	Connected bool   `json:"connected"`
	Ready     bool   `json:"ready"`
	Head      uint64 `json:"head"`
	Score     int    `json:"score"`
	Banned    bool   `json:"banned,omitempty"`
}

// Raft is the sequencer group as this member sees it (internal/ha).
type Raft struct {
	// Role is raft's state: Leader, Follower, Candidate, Shutdown.
	Role string `json:"role"`
	// Leader is the leader's sequencer address ("" while none is known).
	Leader  string `json:"leader"`
	Term    uint64 `json:"term"`
	Members int    `json:"members"`
	// Applied is the last block the group committed that this member
	// applied.
	Applied uint64 `json:"applied"`
	// CaughtUp: this member may lead (Why says why not); Producing: it
	// builds blocks now.
	CaughtUp  bool   `json:"caught_up"`
	Why       string `json:"why,omitempty"`
	Producing bool   `json:"producing"`
}

// maxHealthyBitcoinLag is how many blocks the index may trail the best
// announced header and the node still call itself healthy: a block or
// two arrive between a header and its body in normal operation.
const maxHealthyBitcoinLag = 2

// Status takes the node's status now.
func (n *Node) Status() Status {
	now := time.Now()
	st := Status{
		ChainID: n.Spec.Config.ChainID,
		Role:    "follower",
		Peers:   []Peer{},
	}
	if n.Sequencer != nil {
		st.Role = "sequencer"
	}
	head := n.Chain.Head()
	st.Head = blockRef(head, now)
	if ex, err := block.HeaderExtra(head); err == nil {
		st.View = BitcoinRef{Height: int32(ex.BitcoinHeight), Hash: ex.BitcoinHash.String()}
	}
	heads := n.Finality.Heads()
	st.Safe = n.blockAt(heads.Safe, now)
	st.Finalized = n.blockAt(heads.Finalized, now)
	st.LastKeystone = n.lastKeystone(head.Number.Uint64())

	p := n.cfg.BTC.Progress()
	ih, iheight := n.cfg.BTC.BlockTip()
	st.Bitcoin = BitcoinStatus{
		Network: n.Spec.Config.BitcoinNetwork,
		Tip:     BitcoinRef{Height: p.HeaderHeight, Hash: p.HeaderHash.String()},
		Indexed: BitcoinRef{Height: iheight, Hash: ih.String()},
		Lag:     max(p.HeaderHeight-iheight, 0),
		Peers:   p.Peers,
		Synced:  p.Synced,
	}
	if n.P2P != nil {
		for _, p := range n.P2P.Peers() {
			st.Peers = append(st.Peers, Peer{ID: p.ID.String(), Addr: p.Addr, Connected: p.Connected,
				Ready: p.Ready, Head: p.HeadNumber, Score: p.Score, Banned: !p.BannedUntil.IsZero()})
		}
	}
	if n.HA != nil {
		h := n.HA.Status()
		r := &Raft{Role: h.State, Leader: h.LeaderID, Term: h.Term, CaughtUp: h.CaughtUp, Why: h.Why, Producing: h.Producing}
		if h.Applied != nil {
			r.Applied = h.Applied.Number
		}
		if ms, err := n.HA.Members(); err == nil {
			r.Members = len(ms)
		}
		st.Raft = r
	}
	st.Problems = problems(st)
	st.Healthy = len(st.Problems) == 0
	return st
}

// problems lists what makes a node unhealthy: a Bitcoin layer without
// peers or trailing its peers' tip (the node's views and finality would
// be stale). The L2 head's age is reported, not judged: a follower of a
// stopped network is healthy as a server.
func problems(st Status) []string {
	var out []string
	if st.Bitcoin.Peers == 0 {
		out = append(out, "bitcoin: no peers")
	}
	if st.Bitcoin.Lag > maxHealthyBitcoinLag {
		out = append(out, fmt.Sprintf("bitcoin: index %d blocks behind the best header", st.Bitcoin.Lag))
	}
	return out
}

func blockRef(h *types.Header, now time.Time) BlockRef {
	return BlockRef{Number: h.Number.Uint64(), Hash: h.Hash(), Time: h.Time,
		AgeSeconds: max(now.Unix()-int64(h.Time), 0)}
}

// blockAt is the canonical block at number, nil if the chain does not
// have it (finality before the first superfinal block reports 0, the
// genesis, which always exists).
func (n *Node) blockAt(number uint64, now time.Time) *BlockRef {
	h, err := n.Chain.HeaderByNumber(number)
	if err != nil {
		return nil
	}
	r := blockRef(h, now)
	return &r
}

// lastKeystone is the newest keystone at or below head with its
// publication status.
func (n *Node) lastKeystone(head uint64) *KeystoneStatus {
	iv := n.Spec.Config.KeystoneInterval
	if iv == 0 || head < iv {
		return nil
	}
	k, err := n.Chain.KeystoneAt(head / iv * iv)
	if err != nil {
		return nil
	}
	s := n.Finality.KeystoneStatus(k)
	return &KeystoneStatus{Number: k.Number, Hash: k.Hash, Published: s.Published,
		Confirmations: s.Confirmations, Superfinal: s.Superfinal, Depth: s.Depth}
}

// StatusHandler serves GET /status (the Status as JSON) and GET /healthz
// (200 {"healthy":true} or 503 with the problems), for load balancers,
// monitoring and `hemi status`.
func (n *Node) StatusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		st := n.Status()
		code := http.StatusOK
		if !st.Healthy {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, struct {
			Healthy  bool     `json:"healthy"`
			Problems []string `json:"problems,omitempty"`
			Head     uint64   `json:"head"`
		}{st.Healthy, st.Problems, st.Head.Number})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
