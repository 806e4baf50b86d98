// Command hemi is the one binary of Hemi in Go: the node, the embedded
// devnet, the PoP miner and the client commands. main only builds the signal
// context and runs the command tree; each command loads its configuration
// and calls its subsystem's Run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "hemi:", err)
		os.Exit(1)
	}
}
