package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
)

// CachePath returns the file a chain of cfg is cached under in dir. The
// name carries everything the chain depends on.
func CachePath(dir string, cfg GenConfig) string {
	return filepath.Join(dir, fmt.Sprintf("btc-index-v%d-%s-b%d-t%d-%x.chain",
		GeneratorVersion, cfg.Params.Name, cfg.Blocks, cfg.Txs, seedTag(cfg.Seed)))
}

// genesisTag is a short hash (8 hex digits) of the genesis block spec
// builds, with its Bitcoin view replaced by regtest's genesis block, for
// the names of cached L2 chains (restart, net-sync, explorer). A change to
// what builds a benchmark's genesis (its config, allocations, predeploys,
// the header's layout) then names a new directory, which the benchmark
// builds, instead of finding a cached chain whose node refuses it
// ("database holds a different genesis"). The view is left out: the
// restart node's Bitcoin chain is mined when it is built, so its view is
// not known before, and each cache checks its own Bitcoin side (the
// restart and explorer caches hold their Bitcoin index; the net-sync
// source's view is mined again from a fixed seed). The btc-index cache
// holds no L2 chain: its name carries the generator's version and seed,
// and a file of another network or genesis is generated again.
func genesisTag(spec *genesis.Spec) (string, error) {
	s := *spec
	s.View = tagView()
	h, err := s.Header()
	if err != nil {
		return "", fmt.Errorf("bench: genesis of the cache name: %w", err)
	}
	return hex.EncodeToString(h.Hash().Bytes()[:4]), nil
}

// tagView is the Bitcoin view genesisTag puts in every genesis it hashes:
// regtest's genesis block.
func tagView() hvm.Header {
	p := &chaincfg.RegressionNetParams
	return hvm.Header{Height: 0, Hash: *p.GenesisHash, Header: p.GenesisBlock.Header}
}

func seedTag(seed string) []byte {
	var h uint32 = 2166136261 // FNV-1a, only to keep file names short
	for i := range len(seed) {
		h ^= uint32(seed[i])
		h *= 16777619
	}
	return []byte{byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)}
}

// DefaultCacheDir is <module root>/.cache/bench when run inside the source
// tree, else the user cache directory's hemi/bench.
func DefaultCacheDir() string {
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.Join(dir, ".cache", "bench")
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "hemi", "bench")
	}
	return filepath.Join(os.TempDir(), "hemi-bench")
}

// LoadOrGenerate returns the chain of cfg from the cache in dir, generating
// and caching it first when it is missing or invalid.
func LoadOrGenerate(ctx context.Context, cfg GenConfig, dir string, out io.Writer) (*ChainFile, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	path := CachePath(dir, cfg)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		c, derr := DecodeChainFile(data, cfg.Params.Net, *cfg.Params.GenesisHash)
		if derr == nil {
			fmt.Fprintf(out, "chain: cached %s (%d blocks, %d txs)\n", path, c.Blocks(), c.Txs())
			return c, nil
		}
		fmt.Fprintf(out, "chain: cached %s is unusable (%v); generating it again\n", path, derr)
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(out, "chain: generating %d blocks, %d txs into %s\n", cfg.Blocks, cfg.Txs, path)
	default:
		return nil, fmt.Errorf("bench: read cached chain: %w", err)
	}
	w, err := NewChainWriter(path, cfg.Params.Net, *cfg.Params.GenesisHash)
	if err != nil {
		return nil, err
	}
	if cfg.Progress == nil {
		cfg.Progress = out
	}
	st, err := Generate(ctx, cfg, w)
	if err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "chain: generated %d blocks, %d txs (%d signatures: %d p2wpkh, %d p2tr; %d OP_RETURN, %d PoP; max %d utxos) in %s\n",
		st.Blocks, st.Txs, st.Signatures, st.Inputs[txgen.P2WPKH], st.Inputs[txgen.P2TR], st.OpReturns, st.PoPs, st.MaxPool, st.Duration.Round(time.Millisecond))
	if data, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("bench: read generated chain: %w", err)
	}
	c, err := DecodeChainFile(data, cfg.Params.Net, *cfg.Params.GenesisHash)
	if err != nil {
		return nil, fmt.Errorf("bench: generated chain does not decode: %w", err)
	}
	return c, nil
}
