package signer

import (
	"context"
	"errors"
	"math/big"
	"net/http/httptest"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
)

// chainIDAPI answers eth_chainId, all DialRPCNode and SubmitTo ask.
type chainIDAPI struct{ id int64 }

func (a chainIDAPI) ChainId() *hexutil.Big { return (*hexutil.Big)(big.NewInt(a.id)) }

func chainServer(t *testing.T, id int64) string {
	t.Helper()
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", chainIDAPI{id}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Stop() })
	return hs.URL
}

// TestSubmitTo: the submit endpoint must serve the signer's node's chain;
// an unreachable one or one of another chain is refused, naming it.
func TestSubmitTo(t *testing.T) {
	ctx := context.Background()
	key, _ := crypto.GenerateKey()
	own, same, other := chainServer(t, 7), chainServer(t, 7), chainServer(t, 8)
	n, err := DialRPCNode(ctx, own, nil, common.Address{}, key)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.SubmitTo(ctx, other); !errors.Is(err, ErrConfig) {
		t.Fatalf("another chain's endpoint: %v", err)
	}
	if err := n.SubmitTo(ctx, "http://127.0.0.1:1"); err == nil {
		t.Fatal("an unreachable endpoint was taken")
	}
	if n.submit != n.eth {
		t.Fatal("a refused endpoint replaced the node's own")
	}
	if err := n.SubmitTo(ctx, same); err != nil {
		t.Fatal(err)
	}
	if n.submit == n.eth {
		t.Fatal("posts still go to the node's own JSON-RPC")
	}
	if err := n.SubmitTo(ctx, same); err != nil { // replacing closes the previous one
		t.Fatal(err)
	}
}
