package bench

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestRunRestart builds two small cached nodes, restarts each and checks
// both served their head and caught up (figures are printed, not
// asserted); a second run reuses the cache.
func TestRunRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two nodes on the embedded regtest Bitcoin")
	}
	dir := t.TempDir()
	sizes := []RestartSize{{L2: 100, BTC: 20}, {L2: 400, BTC: 60}}
	var out bytes.Buffer
	res, err := RunRestart(context.Background(), dir, sizes, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, r := range res {
		if r.ToRPC <= 0 || r.ToFinality <= 0 {
			t.Fatalf("restart of %+v not measured: %+v", r.Size, r)
		}
	}
	out.Reset()
	if _, err := RunRestart(context.Background(), dir, sizes[:1], &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("cached node")) {
		t.Fatalf("second run did not reuse the cache:\n%s", out.String())
	}
}

// BenchmarkRestart is issue 10's restart_ratio: it builds (once, cached
// under DefaultCacheDir) nodes of 1,000 L2 / 100 Bitcoin blocks and of
// 100,000 / 10,000, restarts each and prints the ratio of the big one's
// time to RPC serving its head over the small one's. Run it with
// -benchtime 1x; the first build takes minutes.
func BenchmarkRestart(b *testing.B) {
	for b.Loop() {
		if _, err := RunRestart(context.Background(), DefaultCacheDir(), DefaultRestartSizes, os.Stdout); err != nil {
			b.Fatal(err)
		}
	}
}
