package main

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/rpc"
)

// TestRPCConfig: the [rpc] section reaches the server; `hemi node`
// serves the default namespaces (no debug) unless rpc.apis lists them,
// `hemi devnet` adds debug, as anvil serves it.
func TestRPCConfig(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	c := config.Default().RPC
	node, dev := rpcConfig(c, log), devnetRPCConfig(c, log)
	if len(node.APIs) != 0 || !slices.Contains(dev.APIs, "debug") || !slices.Contains(dev.APIs, "eth") {
		t.Fatalf("apis: node %v, devnet %v", node.APIs, dev.APIs)
	}
	if node.RequestTimeout != rpc.DefaultRequestTimeout || node.TraceMaxBytes != rpc.DefaultTraceMaxBytes ||
		node.FiltersPerClient != rpc.DefaultFiltersPerClient || node.SubscriptionsPerConn != rpc.DefaultSubscriptionsPerConn {
		t.Fatalf("limits not passed on: %+v", node)
	}
	c.APIs = []string{"eth", "net"}
	if dev := devnetRPCConfig(c, log); !slices.Equal(dev.APIs, c.APIs) {
		t.Fatalf("devnet overrode the listed apis: %v", dev.APIs)
	}
}
