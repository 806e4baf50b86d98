package hvm

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/vm"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
)

// shared is one fixture chain in one index, built on first use and
// closed by TestMain: the golden, table, fuzz and benchmark code all read
// it through views, which never change it.
var shared struct {
	once sync.Once
	dir  string
	f    *fixture
	ix   *index.Index
	view IndexView
	err  error
}

// onceTB lets buildFixture report through a plain error on the shared
// path, where no single test owns the failure.
type onceTB struct {
	testing.TB
	err error
}

func (o *onceTB) Helper() {}
func (o *onceTB) Fatal(args ...any) {
	o.err = fmt.Errorf("%s", fmt.Sprint(args...))
	panic(o)
}
func (o *onceTB) Fatalf(format string, args ...any) {
	o.err = fmt.Errorf(format, args...)
	panic(o)
}

func sharedFixture(t testing.TB) (*fixture, IndexView, vm.PrecompiledContracts) {
	t.Helper()
	shared.once.Do(func() {
		o := &onceTB{}
		defer func() {
			if r := recover(); r != nil {
				if r != o {
					panic(r)
				}
				shared.err = o.err
			}
		}()
		dir, err := os.MkdirTemp("", "hvm-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		shared.f = buildFixture(o)
		shared.ix = openIndex(o, dir)
		indextest.Feed(o, shared.ix, shared.f.blocks)
		shared.view, shared.err = NewIndexView(shared.ix, shared.f.tip())
	})
	if shared.err != nil {
		t.Fatalf("shared fixture: %v", shared.err)
	}
	return shared.f, shared.view, Precompiles(shared.view, regtest)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.ix != nil {
		shared.ix.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// display returns h's bytes in display order, as the ABI takes them.
func display(h chainhash.Hash) []byte {
	d := hashDisplay(h)
	return d[:]
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// addrOf returns the precompile address 0x00..00b.
func addrOf(b byte) common.Address { return common.BytesToAddress([]byte{b}) }
