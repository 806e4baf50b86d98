package node_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/sequencer"
)

// TestStatusAndHealth: GET /status on the RPC port reports the head as
// the chain has it (with its Bitcoin view), the Bitcoin layer's tip and
// index, the last keystone, no L2 peers and no raft group on a lone
// sequencer; GET /healthz answers 200 for a synced node; JSON-RPC still
// answers on the same port.
func TestStatusAndHealth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := bitcoinLayer(t, ctx, 4)
	key := sequencer.DevKey()
	f := networkFile(t, svc, 2, crypto.PubkeyToAddress(key.PublicKey))
	f.Config.KeystoneInterval = 2
	spec, err := node.GenesisSpec(f, node.NewBitcoin(svc.Index()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Dir: t.TempDir(), BTC: svc, Spec: spec, Key: key, NoSync: true,
		RPC: rpc.Config{VHosts: []string{"*"}, APIs: []string{"eth"}}, RPCListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	defer runUntil(t, ctx, n, 3)()
	base := "http://" + ln.Addr().String()

	var st node.Status
	if code := getJSON(t, base+"/status", &st); code != http.StatusOK {
		t.Fatalf("/status: HTTP %d", code)
	}
	h, err := n.Chain.HeaderByNumber(st.Head.Number)
	if err != nil || st.Head.Number < 3 || h.Hash() != st.Head.Hash || h.Time != st.Head.Time {
		t.Fatalf("status head %+v (chain: %v, %v): want a canonical block >= 3", st.Head, h, err)
	}
	ex, err := block.HeaderExtra(h)
	if err != nil || st.View.Height != int32(ex.BitcoinHeight) || st.View.Hash != ex.BitcoinHash.String() {
		t.Fatalf("status view %+v: want the head's Bitcoin view %d %s", st.View, ex.BitcoinHeight, ex.BitcoinHash)
	}
	tipHash, tip := svc.BlockTip()
	if b := st.Bitcoin; b.Indexed.Height != tip || b.Indexed.Hash != tipHash.String() || b.Tip.Height != 4 ||
		b.Lag != 0 || b.Peers != 1 || !b.Synced || b.Network != "regtest" {
		t.Fatalf("status bitcoin %+v: want indexed = tip = 4 (%s), 1 peer, synced", b, tipHash)
	}
	if st.Role != "sequencer" || !st.Healthy || len(st.Problems) != 0 || st.ChainID != spec.Config.ChainID {
		t.Fatalf("status role %q healthy %v problems %v chain %d", st.Role, st.Healthy, st.Problems, st.ChainID)
	}
	if k := st.LastKeystone; k == nil || k.Number != st.Head.Number/2*2 || k.Depth != 3 {
		t.Fatalf("last keystone %+v: want the newest keystone at or below head %d, depth 3", k, st.Head.Number)
	} else if kh, err := n.Chain.HeaderByNumber(k.Number); err != nil || kh.Hash() != k.Hash {
		t.Fatalf("last keystone hash %s, chain %v %v", k.Hash, kh, err)
	}
	if st.Safe == nil || st.Finalized == nil || st.Finalized.Number > st.Safe.Number {
		t.Fatalf("safe %+v finalized %+v: want both, finalized <= safe", st.Safe, st.Finalized)
	}
	if st.Peers == nil || len(st.Peers) != 0 || st.Raft != nil {
		t.Fatalf("peers %+v raft %+v: want [] and null on a node without L2 networking or a group", st.Peers, st.Raft)
	}

	var health struct {
		Healthy bool   `json:"healthy"`
		Head    uint64 `json:"head"`
	}
	if code := getJSON(t, base+"/healthz", &health); code != http.StatusOK || !health.Healthy || health.Head < 3 {
		t.Fatalf("/healthz: HTTP %d %+v: want 200 healthy", code, health)
	}
	cl, err := gethrpc.DialContext(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var num hexutil.Uint64
	if err := cl.CallContext(ctx, &num, "eth_blockNumber"); err != nil || uint64(num) < 3 {
		t.Fatalf("eth_blockNumber %d, %v beside /status", num, err)
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", url, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}
