package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestExplorer runs the explorer benchmark on a small chain: every page
// type answers (a failing page fails the run) and the last line has its
// figures. The second run reads the chain the first cached.
func TestExplorer(t *testing.T) {
	cfg := ExplorerConfig{Blocks: 30, PerBlock: 5, Samples: 5, CacheDir: t.TempDir()}
	var out bytes.Buffer
	if _, err := RunExplorer(context.Background(), cfg, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "chain: cached") || !strings.Contains(out.String(), "built, executed, stored and indexed") {
		t.Fatalf("the first run did not build the chain\n%s", out.String())
	}
	out.Reset()
	res, err := RunExplorer(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "chain: cached") {
		t.Fatalf("the second run did not reuse the cached chain\n%s", out.String())
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
