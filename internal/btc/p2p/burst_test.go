package p2p_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/regtest"
)

// TestRegtestBurstsReachTip mines bursts of 1..200 blocks at once on the
// embedded regtest node (as the devnet tests do with MineBTC(n)), with
// random pauses between them, and checks after each burst that the index
// reaches the node's tip and that the node was never banned. A burst makes
// the node announce its tip many times while our getheaders is in flight;
// before the fix, those announcements counted as unconnecting headers
// messages and the eleventh banned the only peer for an hour, so the index
// stopped (TestDevnetSignersRefresh hung 240 s after MineBTC(39)).
// P2P_BURSTS sets the number of bursts (default 12).
func TestRegtestBurstsReachTip(t *testing.T) {
	t.Parallel()
	bursts := 12
	if s := os.Getenv("P2P_BURSTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("P2P_BURSTS=%q: want a positive number", s)
		}
		bursts = n
	}
	node, ctx, cancel := startRegtest(t, regtest.Config{})
	miner := btcdtest.DefaultMiningAddress()
	if _, err := node.Mine(5, miner); err != nil {
		t.Fatal(err)
	}
	ix, c := syncFrom(ctx, cancel, t, node)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range bursts {
		// Mostly short bursts, sometimes one past the headers
		// announcement limit, sometimes a long one.
		var n int
		switch rng.IntN(3) {
		case 0:
			n = 1 + rng.IntN(8)
		case 1:
			n = 9 + rng.IntN(40)
		default:
			n = 50 + rng.IntN(151)
		}
		if _, err := node.Mine(n, miner); err != nil {
			t.Fatal(err)
		}
		tip, height := node.Tip()
		// Generous: a burst of 200 is indexed in well under a second on
		// a quiet machine; a stalled sync never gets there.
		waitUntil(t, 60*time.Second, "index at the tip after burst "+strconv.Itoa(i)+" of "+strconv.Itoa(n)+
			" blocks (height "+strconv.Itoa(int(height))+")", func() bool {
			if b := c.Banned(); len(b) > 0 {
				t.Fatalf("burst %d of %d blocks: the node was banned: %v", i, n, b)
			}
			h, _ := ix.BlockTip()
			return h == tip
		})
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
	}
}
