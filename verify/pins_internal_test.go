package verify

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// realHeader decodes the header at height h of a vector
// (pins_data_test.go).
func realHeader(t testing.TB, m map[int32]string, h int32) (*wire.BlockHeader, []byte) {
	t.Helper()
	s, ok := m[h]
	if !ok {
		t.Fatalf("no header at height %d in the vector", h)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != wire.MaxBlockHeaderPayload {
		t.Fatalf("header %d: %d bytes, %v", h, len(b), err)
	}
	var hd wire.BlockHeader
	if err := hd.Deserialize(bytes.NewReader(b)); err != nil {
		t.Fatalf("header %d: %v", h, err)
	}
	return &hd, b
}

// sparseCtx is btcd's HeaderCtx over real headers at the heights a
// vector holds and nothing else: an ancestor the vector lacks is nil, so
// a rule that needs it fails instead of reading an invented value.
type sparseCtx struct {
	height int32
	h      *wire.BlockHeader
	all    map[int32]*wire.BlockHeader
}

func (s *sparseCtx) Height() int32    { return s.height }
func (s *sparseCtx) Bits() uint32     { return s.h.Bits }
func (s *sparseCtx) Timestamp() int64 { return s.h.Timestamp.Unix() }
func (s *sparseCtx) Parent() blockchain.HeaderCtx {
	return s.RelativeAncestorCtx(1)
}
func (s *sparseCtx) RelativeAncestorCtx(d int32) blockchain.HeaderCtx {
	h, ok := s.all[s.height-d]
	if !ok {
		return nil
	}
	return &sparseCtx{height: s.height - d, h: h, all: s.all}
}

func sparse(t testing.TB, m map[int32]string, at int32) *sparseCtx {
	all := map[int32]*wire.BlockHeader{}
	for h := range m {
		all[h], _ = realHeader(t, m, h)
	}
	return &sparseCtx{height: at, h: all[at], all: all}
}

func pinned(t testing.TB, network string, height int32) *Checkpoint {
	t.Helper()
	for i, cp := range Checkpoints[network] {
		if cp.Height == height {
			return &Checkpoints[network][i]
		}
	}
	t.Fatalf("no pinned %s checkpoint at %d", network, height)
	return nil
}

// TestPinnedCheckpointHeaders checks every pinned checkpoint against
// public data: a genesis is its network's genesis; the others are on a
// retarget boundary and their real header hashes to the pinned hash and
// meets its target (work no one forges for a test vector). Where the
// vector holds the period's first and last blocks, btcd's retarget rule
// (testnet4's BIP-94 included) run over them gives the checkpoint's bits.
// Mainnet's 959,616, whose own header no public vector found holds, is
// proved by the 24 real headers built on it.
func TestPinnedCheckpointHeaders(t *testing.T) {
	for network, list := range Checkpoints {
		params := Networks[network]
		per := chainCtx{params}.BlocksPerRetarget()
		for _, cp := range list {
			if cp.Height%per != 0 {
				t.Errorf("%s checkpoint %d is not on a retarget boundary", network, cp.Height)
			}
			if cp.Height == 0 && cp.Hash != *params.GenesisHash {
				t.Errorf("%s genesis pinned as %v", network, cp.Hash)
			}
		}
	}
	for _, c := range []struct {
		network string
		m       map[int32]string
		height  int32
		// retarget: the vector holds the period's first and last blocks.
		retarget bool
	}{
		{"testnet4", testnet4Headers, 145152, true},
		{"signet", signetHeaders, 300384, false},
		{"mainnet", mainnetHeaders, 901152, true},
	} {
		cp := pinned(t, c.network, c.height)
		params := Networks[c.network]
		h, _ := realHeader(t, c.m, c.height)
		hash := h.BlockHash()
		if hash != cp.Hash {
			t.Fatalf("%s %d: the public header hashes to %v, pinned %v", c.network, c.height, hash, cp.Hash)
		}
		if err := checkPoW(blockchain.CompactToBig(h.Bits), hash, params.PowLimit); err != nil {
			t.Fatalf("%s %d: %v", c.network, c.height, err)
		}
		if !c.retarget {
			continue
		}
		// The period's last block with its ancestors the vector holds
		// (testnet4: the 11 median time past needs; mainnet: none, so
		// there the median is of the one block) and, 2015 back, the
		// period's first block.
		prev := sparse(t, c.m, c.height-1)
		if err := blockchain.CheckBlockHeaderContext(h, prev, blockchain.BFNone, chainCtx{params}, true); err != nil {
			t.Fatalf("%s %d: btcd's retarget over the real period refuses the checkpoint: %v", c.network, c.height, err)
		}
	}

	// 959,616: the public run above it names it as parent, each header
	// with valid proof of work and the period's bits.
	cp := pinned(t, "mainnet", 959616)
	parent := cp.Hash
	var bits uint32
	for h := int32(959617); h <= 959640; h++ {
		hd, _ := realHeader(t, mainnetHeaders, h)
		if hd.PrevBlock != parent {
			t.Fatalf("mainnet %d names parent %v, want %v", h, hd.PrevBlock, parent)
		}
		parent = hd.BlockHash()
		if err := checkPoW(blockchain.CompactToBig(hd.Bits), parent, chaincfg.MainNetParams.PowLimit); err != nil {
			t.Fatalf("mainnet %d: %v", h, err)
		}
		if bits != 0 && hd.Bits != bits {
			t.Fatalf("mainnet %d: bits %08x inside a period of %08x", h, hd.Bits, bits)
		}
		bits = hd.Bits
	}
}

// TestBIP94FirstBlockBits: testnet4's retarget takes the closing period's
// first block's bits, not its last's (BIP-94), which the verifier gets
// from btcd through chainCtx. At the real 145,152 both blocks have the
// same bits, so this replays that retarget with the last block's bits set
// to the minimum difficulty (as a 20-minute block may legally have; a
// synthetic value, labelled so): the BIP-94 rule still gives the real
// 145,152's bits, and the pre-BIP-94 rule (the same parameters without
// EnforceBIP94) refuses them.
func TestBIP94FirstBlockBits(t *testing.T) {
	h, _ := realHeader(t, testnet4Headers, 145152)
	prev := sparse(t, testnet4Headers, 145151)
	storm := *prev.h
	storm.Bits = chaincfg.TestNet4Params.PowLimitBits // synthetic: a minimum-difficulty period end
	prev.h = &storm
	if err := blockchain.CheckBlockHeaderContext(h, prev, blockchain.BFNone, chainCtx{&chaincfg.TestNet4Params}, true); err != nil {
		t.Fatalf("BIP-94 retarget from the period's first block: %v", err)
	}
	legacy := chaincfg.TestNet4Params
	legacy.EnforceBIP94 = false
	err := blockchain.CheckBlockHeaderContext(h, prev, blockchain.BFNone, chainCtx{&legacy}, true)
	var re blockchain.RuleError
	if !errors.As(err, &re) || re.ErrorCode != blockchain.ErrUnexpectedDifficulty {
		t.Fatalf("the pre-BIP-94 retarget (from the last block's bits) gave %v, want a difficulty mismatch", err)
	}
}

// realRun is the anchor (the checkpoint and the 11 headers before it) and
// the run after it, up to height to, from a vector.
func realRun(t testing.TB, m map[int32]string, cp, to int32) (anchor []hexBytes, run [][]byte) {
	for h := cp - 11; h <= cp; h++ {
		_, b := realHeader(t, m, h)
		anchor = append(anchor, b)
	}
	for h := cp + 1; h <= to; h++ {
		_, b := realHeader(t, m, h)
		run = append(run, b)
	}
	return anchor, run
}

// TestPinnedCheckpointRuns checks real header runs from the new testnet4
// and signet checkpoints with the verifier's header rules (checkHeaders:
// the anchor hash-chains to the pinned hash; then links, proof of work,
// retarget and median time past). The testnet4 run holds 20-minute
// minimum-difficulty blocks and 145,156, whose difficulty walks back to
// the checkpoint's bits, which only the anchor supplies; checked under
// mainnet's rules the same run fails. Mainnet's new checkpoints have no
// public run with the 11 headers before them, so a run from them is not
// tested here.
func TestPinnedCheckpointRuns(t *testing.T) {
	for _, c := range []struct {
		network string
		m       map[int32]string
		cp, to  int32
	}{
		{"testnet4", testnet4Headers, 145152, 145160},
		{"signet", signetHeaders, 300384, 300400},
	} {
		t.Run(c.network, func(t *testing.T) {
			cp := pinned(t, c.network, c.cp)
			params := Networks[c.network]
			anchor, run := realRun(t, c.m, c.cp, c.to)
			ch, err := checkHeaders(cp, anchor, params, run, time.Time{})
			if err != nil {
				t.Fatalf("the real run from %d: %v", c.cp, err)
			}
			if ch.tip.height != c.to || ch.tip.work.Cmp(big.NewInt(0)) <= 0 {
				t.Fatalf("tip %d work %v", ch.tip.height, ch.tip.work)
			}

			// The same headers, wrongly assembled, are refused.
			if _, err := checkHeaders(cp, anchor[1:], params, run, time.Time{}); !errors.Is(err, ErrCheckpoint) {
				t.Errorf("an anchor one header short: %v", err)
			}
			reversed := make([]hexBytes, len(anchor))
			for i, b := range anchor {
				reversed[len(anchor)-1-i] = b
			}
			if _, err := checkHeaders(cp, reversed, params, run, time.Time{}); !errors.Is(err, ErrCheckpoint) {
				t.Errorf("the anchor in reverse: %v", err)
			}
			swapped := append([][]byte{run[1], run[0]}, run[2:]...)
			if _, err := checkHeaders(cp, anchor, params, swapped, time.Time{}); !errors.Is(err, ErrHeaders) {
				t.Errorf("two headers swapped: %v", err)
			}
			tampered := append([][]byte(nil), run...)
			tampered[3] = append([]byte(nil), run[3]...)
			tampered[3][76]++ // the nonce
			if _, err := checkHeaders(cp, anchor, params, tampered, time.Time{}); !errors.Is(err, ErrHeaders) {
				t.Errorf("a nonce changed: %v", err)
			}
			// A clock two hours before the run's tip refuses it (the
			// tip is in that clock's future).
			last, _ := realHeader(t, c.m, c.to)
			if _, err := checkHeaders(cp, anchor, params, run, last.Timestamp.Add(-3*time.Hour)); !errors.Is(err, ErrHeaders) {
				t.Errorf("a run from the future: %v", err)
			}
		})
	}
	// Testnet4's minimum-difficulty blocks are testnet4's rule only.
	cp := pinned(t, "testnet4", 145152)
	anchor, run := realRun(t, testnet4Headers, 145152, 145160)
	if _, err := checkHeaders(cp, anchor, &chaincfg.MainNetParams, run, time.Time{}); !errors.Is(err, ErrHeaders) {
		t.Fatalf("the testnet4 run under mainnet's rules: %v", err)
	}
}

// RealRun is a real header run from a pinned checkpoint, for the
// external tests (pins_test.go): the bundle's checkpoint reference, its
// anchor and its headers.
func RealRun(t testing.TB, network string) HeaderRun {
	var m map[int32]string
	var at, to int32
	switch network {
	case "testnet4":
		m, at, to = testnet4Headers, 145152, 145160
	case "signet":
		m, at, to = signetHeaders, 300384, 300400
	default:
		t.Fatalf("no real run for %s", network)
	}
	cp := pinned(t, network, at)
	anchor, run := realRun(t, m, at, to)
	out := HeaderRun{Checkpoint: BlockRef{Height: at, Hash: cp.Hash.String()}, Anchor: anchor}
	for _, b := range run {
		out.Headers = append(out.Headers, b)
	}
	return out
}
