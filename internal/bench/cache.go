package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hemi-go/hemi/internal/btc/txgen"
)

// CachePath returns the file a chain of cfg is cached under in dir. The
// name carries everything the chain depends on.
func CachePath(dir string, cfg GenConfig) string {
	return filepath.Join(dir, fmt.Sprintf("btc-index-v%d-%s-b%d-t%d-%x.chain",
		GeneratorVersion, cfg.Params.Name, cfg.Blocks, cfg.Txs, seedTag(cfg.Seed)))
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
