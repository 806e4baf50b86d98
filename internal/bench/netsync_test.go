package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestNetSync runs the net-sync benchmark small: both the synced and the
// imported chain must end on the source's head (RunNetSync checks), and
// the figures and the last line are filled. No timing is asserted.
func TestNetSync(t *testing.T) {
	var out bytes.Buffer
	res, err := RunNetSync(context.Background(), NetSyncConfig{Blocks: 300, PerBlock: 10, Runs: 2, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.SyncBlocksS <= 0 || res.ImportBlocksS <= 0 || res.Ratio <= 0 {
		t.Fatalf("figures %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != res.ResultLine() || !strings.HasPrefix(last, "net-sync blocks=300 ") {
		t.Fatalf("last line %q", last)
	}
	t.Log(out.String())
}
