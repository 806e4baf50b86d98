package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestExplorer runs the explorer benchmark on a small chain: every page
// type answers (a failing page fails the run) and the last line has its
// figures.
func TestExplorer(t *testing.T) {
	var out bytes.Buffer
	res, err := RunExplorer(context.Background(), ExplorerConfig{Blocks: 30, PerBlock: 5, Samples: 5, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if last != res.ResultLine() || !strings.HasPrefix(last, "explorer p95_ms=") || res.P95 <= 0 || res.WorstPage == "" || res.PageKB <= 0 {
		t.Fatalf("last line %q, result %+v\n%s", last, res, out.String())
	}
	for _, page := range []string{"home", "block", "tx", "address-sender", "token", "keystones"} {
		if !strings.Contains(out.String(), "\n"+page+" ") {
			t.Errorf("no figures for %s\n%s", page, out.String())
		}
	}
}
