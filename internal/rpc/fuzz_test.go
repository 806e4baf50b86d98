package rpc

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
)

// FuzzFilterCriteria: the filter decoder never panics, and what it
// accepts re-encodes to an object that decodes to the same criteria.
func FuzzFilterCriteria(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"fromBlock":"0x1","toBlock":"latest"}`, `{"blockHash":"0x` + common.Hash{1}.Hex()[2:] + `"}`,
		`{"address":"0x0000000000000000000000000000000000000001"}`,
		`{"address":["0x0000000000000000000000000000000000000001"],"topics":[null,["0x` + common.Hash{2}.Hex()[2:] + `",null]]}`,
		`{"topics":["0x` + common.Hash{3}.Hex()[2:] + `"]}`, `{"topics":[[],[],[],[],[]]}`, `{"fromBlock":"pending","toBlock":"0x"}`,
		`{"blockHash":"0x00","fromBlock":"0x1"}`, `[]`, `null`, `{"address":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c filterCriteria
		if err := json.Unmarshal(data, &c); err != nil {
			return
		}
		if len(c.Topics) > maxFilterTopics || len(c.Addresses) > maxFilterAddresses {
			t.Fatalf("accepted %d topics, %d addresses", len(c.Topics), len(c.Addresses))
		}
		for i, pos := range c.Topics {
			if len(pos) > maxFilterTopicHashes {
				t.Fatalf("accepted %d alternatives for topic %d", len(pos), i)
			}
		}
		if c.BlockHash != nil && (c.FromBlock != gethrpc.LatestBlockNumber || c.ToBlock != gethrpc.LatestBlockNumber) {
			t.Fatal("blockHash with a range")
		}
		obj := map[string]any{"address": c.Addresses, "topics": c.Topics}
		if c.BlockHash != nil {
			obj["blockHash"] = c.BlockHash
		} else {
			obj["fromBlock"], obj["toBlock"] = c.FromBlock, c.ToBlock
		}
		enc, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var back filterCriteria
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		// Topic positions that are empty lists decode as wildcards.
		if back.FromBlock != c.FromBlock || back.ToBlock != c.ToBlock || len(back.Addresses) != len(c.Addresses) || len(back.Topics) != len(c.Topics) {
			t.Fatalf("round trip %+v -> %s -> %+v", c, enc, back)
		}
		for i := range c.Topics {
			if len(back.Topics[i]) != len(c.Topics[i]) {
				t.Fatalf("topic %d: %v -> %v", i, c.Topics[i], back.Topics[i])
			}
		}
		// Matching never panics on any log shape.
		logMatches(&fakeLog, &c)
		bloomMatches(fakeBloom, &c)
	})
}

// FuzzBlockParam: any block parameter decodes or fails, and resolving
// what decodes answers a header, not found, or a -32602 error.
func FuzzBlockParam(f *testing.F) {
	e := newEnv(f, Config{})
	e.mine()
	for _, s := range []string{`"latest"`, `"pending"`, `"earliest"`, `"safe"`, `"finalized"`, `"0x0"`, `"0x1"`, `"0x2"`,
		`"0xffffffffffffffff"`, `"-0x1"`, `{"blockNumber":"0x1"}`, `{"blockHash":"0x` + e.chain.Head().Hash().Hex()[2:] + `","requireCanonical":true}`,
		`{"blockHash":"0x00"}`, `12`, `"0x"`, `"0x01"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var bnh gethrpc.BlockNumberOrHash
		if err := json.Unmarshal(data, &bnh); err != nil {
			return
		}
		h, err := e.srv.headerByNumberOrHash(bnh)
		var re *rpcError
		switch {
		case err == nil:
			if h == nil || h.Number.Uint64() > e.chain.Head().Number.Uint64() {
				t.Fatalf("header %v for %s", h, data)
			}
		case errors.Is(err, chain.ErrNotFound):
		case errors.As(err, &re) && re.code == codeInvalidParams:
		default:
			t.Fatalf("%s: %v", data, err)
		}
	})
}

// FuzzStorageSlot: decodeSlot never panics and keeps the value.
func FuzzStorageSlot(f *testing.F) {
	for _, s := range []string{"0x0", "0x", "", "0x1", "01", "0X" + common.Hash{9}.Hex()[2:], "0xzz", "0x" + string(make([]byte, 70))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := decodeSlot(s)
		if err != nil {
			return
		}
		if h2, err := decodeSlot(h.Hex()); err != nil || h2 != h {
			t.Fatalf("%q -> %s -> %s %v", s, h, h2, err)
		}
	})
}

var (
	fakeLog   = types.Log{Address: common.Address{1}, Topics: []common.Hash{{2}, {3}}}
	fakeBloom = types.CreateBloom(&types.Receipt{Logs: []*types.Log{&fakeLog}})
)

// FuzzMessageRouting: the WebSocket message router (onlySubscriptions)
// and the "response too large" answer (tooLargeAnswer), which both
// decode a client's message, never panic; a message routed to the
// subscription codec is valid JSON; the answer is valid JSON, one error
// per call that has an id, each echoing it.
func FuzzMessageRouting(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`,
		`[{"jsonrpc":"2.0","id":"a","method":"eth_unsubscribe","params":["0x1"]},{"id":2,"method":"hemi_subscribe","params":["finality"]}]`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_subscribe"},{"jsonrpc":"2.0","id":2,"method":"eth_call"}]`,
		`{"jsonrpc":"2.0","id":{"x":1},"method":"eth_call"}`, `{"jsonrpc":"2.0","method":"eth_chainId"}`,
		`[]`, `[1,2]`, `null`, ``, ` `, `{`, `[{"id":null}]`, `{"id":"\u00e9","method":"x_subscribe"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if onlySubscriptions(data) && !json.Valid(data) {
			t.Fatalf("invalid JSON routed to the codec: %q", data)
		}
		out := tooLargeAnswer(data, 100, 10)
		if !json.Valid(out) {
			t.Fatalf("answer %q to %q is not JSON", out, data)
		}
		var single struct{ ID json.RawMessage }
		var batch []struct{ ID json.RawMessage }
		if json.Unmarshal(out, &batch) == nil {
			var calls []struct{ ID json.RawMessage }
			_ = json.Unmarshal(data, &calls)
			want := 0
			for _, c := range calls {
				if len(c.ID) > 0 {
					want++
				}
			}
			if len(batch) != want {
				t.Fatalf("%d answers to %d calls with an id: %q", len(batch), want, data)
			}
			return
		}
		if err := json.Unmarshal(out, &single); err != nil || len(single.ID) == 0 {
			t.Fatalf("answer %q: %v", out, err)
		}
	})
}
