package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the garbage collector's target heap growth unless GOGC is
// set. Go's default (100) lets the heap reach twice what is live; the
// node's live heap is mostly long-lived caches (the Bitcoin index's
// unspent set, 256 MiB by default) with large short-lived batches on top,
// so that doubling put a 5M-transaction sync past its 1 GiB RSS budget.
// At 50 the collector runs twice as often, which cost about 2.5% more CPU
// in that sync (its marking was 2.5% at 100). btcd sets 10 for the same
// reason.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "hemi:", err)
		os.Exit(1)
	}
}
