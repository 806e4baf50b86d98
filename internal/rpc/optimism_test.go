package rpc

import (
	"encoding/hex"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestOptimismBtcFinality: optimism_btcFinalityByBlockHash answers in
// Hemi op-node's shape (heminetwork's L2BTCFinality: snake_case fields,
// hex without 0x, btc_finality = confirmations - 9, -9 for none).
func TestOptimismBtcFinality(t *testing.T) {
	e, svc, pix := newPopEnv(t)
	for range 30 {
		e.mine()
	}
	k25, err := e.chain.KeystoneAt(25)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := e.chain.HeaderByNumber(25)
	if err != nil {
		t.Fatal(err)
	}
	b10, err := e.chain.HeaderByNumber(10)
	if err != nil {
		t.Fatal(err)
	}
	get := func(hash common.Hash) map[string]any {
		t.Helper()
		var m map[string]any
		if err := e.rc.Call(&m, "optimism_btcFinalityByBlockHash", hash); err != nil {
			t.Fatal(err)
		}
		return m
	}
	plain := func(b []byte) string { return hex.EncodeToString(b) }
	wantKeystone := map[string]any{
		"version":               float64(1),
		"l1_block_number":       float64(k25.K.BTCViewHeight),
		"l2_block_number":       float64(25),
		"parent_ep_hash":        plain(kh.ParentHash[:]),
		"prev_ep_keystone_hash": plain(make([]byte, 32)),
		"state_root":            plain(kh.Root[:]),
		"ep_hash":               plain(k25.Hash[:]),
	}
	check := func(name string, m map[string]any, height float64, header string, fin float64) {
		t.Helper()
		ks, _ := m["l2_keystone"].(map[string]any)
		if len(m) != 4 || len(ks) != len(wantKeystone) {
			t.Fatalf("%s: %v", name, m)
		}
		for k, v := range wantKeystone {
			if ks[k] != v {
				t.Errorf("%s: l2_keystone.%s = %v, want %v", name, k, ks[k], v)
			}
		}
		if m["btc_pub_height"] != height || m["btc_pub_header_hash"] != header || m["btc_finality"] != fin {
			t.Errorf("%s: %v, want height %v header %q finality %v", name, m, height, header, fin)
		}
	}
	check("unpublished", get(b10.Hash()), -1, "", -9)

	pix.connect()
	pix.connect(k25)
	waitFor(t, "keystone 25 safe", func() bool { return svc.Safe() == 25 })
	pubHash, _ := pix.BlockTip()
	check("one confirmation", get(b10.Hash()), 1, plain(pubHash[:]), -8)
	pix.connect()
	pix.connect()
	waitFor(t, "keystone 25 superfinal", func() bool { return svc.Finalized() == 25 })
	check("three confirmations", get(kh.Hash()), 1, plain(pubHash[:]), -6)

	// Block 27's keystone (50) does not exist yet.
	b27, _ := e.chain.HeaderByNumber(27)
	if m := get(b27.Hash()); m["l2_keystone"] != nil || m["btc_pub_height"] != float64(-1) || m["btc_finality"] != float64(-9) || m["btc_pub_header_hash"] != "" {
		t.Errorf("block 27: %v", m)
	}
	var m map[string]any
	err = e.rc.Call(&m, "optimism_btcFinalityByBlockHash", common.Hash{1})
	if code, _, _ := rpcErr(t, err); code != codeServer {
		t.Errorf("unknown block: code %d, want %d (hemi-viem's fallback to -9)", code, codeServer)
	}
}
