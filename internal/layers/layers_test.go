package layers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// module is the import path every package below is relative to.
const module = "github.com/hemi-go/hemi/"

// layer is one floor: its name as the README and doc.go lines spell it and
// its packages, relative to the module root.
type layer struct {
	name string
	pkgs []string
}

// table is the house, lowest layer first. A package may import packages of
// its own layer and of any layer before it in this list. Keep it equal to
// the README's "Layers" table (TestREADMETable checks).
var table = []layer{
	{"base", []string{"internal/httpserve", "internal/metrics", "internal/pebblelog"}},
	{"formats", []string{"internal/pop", "internal/chain/block", "internal/btc/network"}},
	{"pure rules", []string{"internal/chain/genesis", "internal/hvm", "internal/btc/txgen", "internal/clock", "internal/finality/tracker", "internal/chain/rules", "internal/chain/derive", "verify", "verify/vault", "internal/tunnel"}},
	{"stores", []string{"internal/btc/index", "internal/chain", "internal/chain/chaindb", "internal/explorer/addrindex"}},
	{"services", []string{"internal/btc/p2p", "internal/btc/peerserve", "internal/btc/regtest", "internal/tbc",
		"internal/finality", "internal/txpool", "internal/sequencer", "internal/popm", "internal/rpc", "internal/ha", "internal/netp2p", "internal/netp2p/rangesync", "internal/provenance", "internal/explorer", "internal/signer"}},
	{"assembly", []string{"internal/node", "internal/node/indexadapt", "internal/devnet", "internal/devnet/cluster", "internal/config"}},
	{"test support", []string{"internal/btc/btcdtest", "internal/btc/indextest", "internal/chain/chaintest", "internal/golden", "internal/compat",
		"internal/bench", "internal/devnet/devnettest", "internal/node/nodetest", "internal/tbc/integration", "internal/layers", "internal/testtools", "internal/testtools/testkit", "verify/verifytest", "internal/tunnel/tunneltest"}},
	{"commands", []string{"cmd/hemi"}},
}

// edge is one import: from imports to.
type edge struct{ from, to string }

// allowed are known upward imports, each with why it is there and what
// removes it (none today). An entry that is no longer needed fails the
// test: delete it.
var allowed = map[edge]string{}

// pkgInfo is what the test needs of `go list -json`.
type pkgInfo struct {
	ImportPath string
	Dir        string
	Imports    []string
	Error      *struct{ Err string }
}

// listPackages runs `go list -e -json ./...` at the module root and
// returns the module's packages with paths relative to the module.
func listPackages(t *testing.T) (root string, pkgs []pkgInfo) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not in a module: run the test inside the repository")
	}
	root = filepath.Dir(gomod)
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,Imports,Error", "./...")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\nstderr:\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		p.ImportPath = strings.TrimPrefix(p.ImportPath, module)
		var imps []string
		for _, imp := range p.Imports {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				imps = append(imps, rel)
			}
		}
		p.Imports = imps
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return root, pkgs
}

// layerOf maps each package of tbl to its layer's index.
func layerOf(tbl []layer) map[string]int {
	m := make(map[string]int)
	for i, l := range tbl {
		for _, p := range l.pkgs {
			m[p] = i
		}
	}
	return m
}

// check returns one problem per package without a layer, per table entry
// naming no package, per upward import not allowed and per allow-list
// entry no import needs. It is the whole rule, apart from go list.
func check(pkgs []pkgInfo, tbl []layer, allow map[edge]string) []string {
	lay := layerOf(tbl)
	var probs []string
	seen := make(map[string]bool)
	used := make(map[edge]bool)
	for _, p := range pkgs {
		seen[p.ImportPath] = true
		li, ok := lay[p.ImportPath]
		if !ok {
			probs = append(probs, fmt.Sprintf("package %s has no layer: add it to the table in internal/layers/layers_test.go and the README's Layers table, and say its layer in its doc.go (\"Layer: <layer> (DESIGN n).\")", p.ImportPath))
			continue
		}
		for _, imp := range p.Imports {
			lj, ok := lay[imp]
			if !ok || lj <= li {
				continue // an unlayered import is reported as its own package
			}
			e := edge{p.ImportPath, imp}
			if _, ok := allow[e]; ok {
				used[e] = true
				continue
			}
			probs = append(probs, fmt.Sprintf("%s (%s) imports %s (%s): a layer may import only its own and lower layers; move the shared part down or invert the dependency with an interface the consumer owns",
				p.ImportPath, tbl[li].name, imp, tbl[lj].name))
		}
	}
	for _, l := range tbl {
		for _, p := range l.pkgs {
			if !seen[p] {
				probs = append(probs, fmt.Sprintf("layer %q lists %s, which is not a package of the module: remove it from the table and the README", l.name, p))
			}
		}
	}
	for e, why := range allow {
		if !used[e] {
			probs = append(probs, fmt.Sprintf("allow-list entry %s -> %s (%s) is no longer needed: delete it", e.from, e.to, why))
		}
	}
	slices.Sort(probs)
	return probs
}

// TestLayers fails on an import from a lower layer to a higher one and on
// a package without a layer.
func TestLayers(t *testing.T) {
	_, pkgs := listPackages(t)
	for _, p := range check(pkgs, table, allowed) {
		t.Error(p)
	}
}

// apart are imports the layer order allows but the house forbids: a
// consumer of the Bitcoin index keeps only its interface, and the
// assembly adapts the index to it (internal/node/indexadapt; issue 9
// item 1), so the consumer's rules and tests do not depend on the store;
// likewise the chain imports no system-transaction deriver.
var apart = map[edge]string{
	{"internal/chain", "internal/btc/index"}:     "the chain asks chain.Bitcoin, which indexadapt.Chain implements",
	{"internal/sequencer", "internal/btc/index"}: "the block producer asks sequencer.Bitcoin, which indexadapt.Chain implements",
	{"internal/popm", "internal/btc/index"}:      "the PoP miner asks popm.Bitcoin, which indexadapt.PoPMiner implements",
	{"internal/hvm", "internal/btc/index"}:       "the hVM asks hvm.BitcoinView, which indexadapt.View implements",
	// The chain runs the derivers the assembly installs (issue 9 item 3).
	{"internal/chain", "internal/chain/derive"}: "the chain runs the rules.Deriver list the assembly installs",
}

// TestApart fails on an import listed in apart.
func TestApart(t *testing.T) {
	_, pkgs := listPackages(t)
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if why, ok := apart[edge{p.ImportPath, imp}]; ok {
				t.Errorf("%s imports %s: %s; keep the adapter in the assembly", p.ImportPath, imp, why)
			}
		}
	}
}

// TestCheck shows the rule failing: an upward import, a package without a
// layer, a stale table entry and a stale allow-list entry are each named.
func TestCheck(t *testing.T) {
	tbl := []layer{{"low", []string{"a", "gone"}}, {"high", []string{"b"}}}
	tests := []struct {
		name  string
		pkgs  []pkgInfo
		allow map[edge]string
		want  []string // substrings, one per problem, in sorted order
	}{
		{name: "downward import is fine", pkgs: []pkgInfo{{ImportPath: "a"}, {ImportPath: "b", Imports: []string{"a"}}, {ImportPath: "gone"}}},
		{name: "upward import", pkgs: []pkgInfo{{ImportPath: "a", Imports: []string{"b"}}, {ImportPath: "b"}, {ImportPath: "gone"}},
			want: []string{"a (low) imports b (high)"}},
		{name: "upward import allowed", pkgs: []pkgInfo{{ImportPath: "a", Imports: []string{"b"}}, {ImportPath: "b"}, {ImportPath: "gone"}},
			allow: map[edge]string{{"a", "b"}: "why"}},
		{name: "stale allow-list entry", pkgs: []pkgInfo{{ImportPath: "a"}, {ImportPath: "b"}, {ImportPath: "gone"}},
			allow: map[edge]string{{"a", "b"}: "why"}, want: []string{"allow-list entry a -> b (why) is no longer needed"}},
		{name: "package without a layer", pkgs: []pkgInfo{{ImportPath: "a"}, {ImportPath: "b"}, {ImportPath: "gone"}, {ImportPath: "new", Imports: []string{"b"}}},
			want: []string{"package new has no layer"}},
		{name: "table names a missing package", pkgs: []pkgInfo{{ImportPath: "a"}, {ImportPath: "b"}},
			want: []string{`layer "low" lists gone`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := check(tc.pkgs, tbl, tc.allow)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// mayImport is the README's "may import" cell of layer i: itself and every
// layer below, lowest first.
func mayImport(i int) string {
	names := make([]string, 0, i+1)
	for _, l := range table[:i+1] {
		names = append(names, l.name)
	}
	return strings.Join(names, ", ")
}

// readmeTable returns the rows of the table under the README's "## Layers"
// heading: layer, packages (the backquoted names), may import.
func readmeTable(t *testing.T, path string) (rows [][3]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			if in {
				break
			}
			in = line == "## Layers"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| layer ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README Layers row %q: want 3 cells (layer | packages | may import)", line)
		}
		rows = append(rows, [3]string{strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

var backquoted = regexp.MustCompile("`([^`]+)`")

// TestREADMETable checks that the README's Layers table is this table, row
// for row, so the two cannot drift.
func TestREADMETable(t *testing.T) {
	root, _ := listPackages(t)
	rows := readmeTable(t, filepath.Join(root, "README.md"))
	if len(rows) != len(table) {
		t.Fatalf("README Layers table has %d rows, want %d (one per layer of internal/layers/layers_test.go)", len(rows), len(table))
	}
	for i, l := range table {
		r := rows[i]
		if r[0] != l.name {
			t.Errorf("README Layers row %d is %q, want %q", i+1, r[0], l.name)
		}
		var pkgs []string
		for _, m := range backquoted.FindAllStringSubmatch(r[1], -1) {
			pkgs = append(pkgs, m[1])
		}
		if !slices.Equal(pkgs, l.pkgs) {
			t.Errorf("README Layers row %q lists %q, want %q", l.name, pkgs, l.pkgs)
		}
		if r[2] != mayImport(i) {
			t.Errorf("README Layers row %q may import %q, want %q", l.name, r[2], mayImport(i))
		}
	}
}

var layerLine = regexp.MustCompile(`(?m)^// Layer: ([a-z ]+) \(DESIGN [^)]+\)\.$`)

// TestDocLayer checks that every package's doc.go says its layer, as the
// table does.
func TestDocLayer(t *testing.T) {
	_, pkgs := listPackages(t)
	lay := layerOf(table)
	for _, p := range pkgs {
		li, ok := lay[p.ImportPath]
		if !ok {
			continue // TestLayers reports it
		}
		src, err := os.ReadFile(filepath.Join(p.Dir, "doc.go"))
		if err != nil {
			t.Errorf("%s: %v: every package has a doc.go saying what it is for and its layer", p.ImportPath, err)
			continue
		}
		m := layerLine.FindAllSubmatch(src, -1)
		if len(m) != 1 || string(m[0][1]) != table[li].name {
			t.Errorf("%s/doc.go: want one line \"// Layer: %s (DESIGN n).\"", p.ImportPath, table[li].name)
		}
	}
}
