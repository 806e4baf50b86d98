package txpool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// journal is the pool's file of accepted transactions, an RLP stream of
// types.Transaction (go-ethereum's transactions.rlp format). v1.17's
// legacypool has no journal and locals.TxTracker resubmits what it loads
// only on its first recheck, 10 s after start, so the pool keeps its own:
// the transactions one Add call accepted (a whole JSON-RPC batch from the
// RPC layer) are appended in one write, made to the OS before Add
// returns, so a kill -9 of the process loses nothing; a crash of the
// machine inside that write leaves a torn tail, and load keeps every
// complete transaction before it (no fsync per Add: a power loss may
// lose the last writes). rotate rewrites the file atomically (temp file,
// fsync, rename) with what the pool still holds.
type journal struct {
	path string
	f    *os.File // append handle; nil until open
}

// load decodes every transaction in the journal. A torn tail (a write cut
// by a crash) ends the load with the transactions before it.
func (j *journal) load() ([]*types.Transaction, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("txpool: open journal: %w", err)
	}
	defer f.Close()
	s := rlp.NewStream(bufio.NewReader(f), 0)
	var out []*types.Transaction
	for {
		tx := new(types.Transaction)
		if err := s.Decode(tx); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("txpool: journal %s after %d transactions: %w", j.path, len(out), err)
		}
		out = append(out, tx)
	}
}

// open starts appending.
func (j *journal) open() error {
	if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
		return fmt.Errorf("txpool: journal dir: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("txpool: open journal: %w", err)
	}
	j.f = f
	return nil
}

// append writes txs in one write.
func (j *journal) append(txs []*types.Transaction) error {
	if j.f == nil || len(txs) == 0 {
		return nil
	}
	var buf []byte
	for _, tx := range txs {
		b, err := rlp.EncodeToBytes(tx)
		if err != nil {
			return fmt.Errorf("txpool: encode journal entry: %w", err)
		}
		buf = append(buf, b...)
	}
	if _, err := j.f.Write(buf); err != nil {
		return fmt.Errorf("txpool: write journal: %w", err)
	}
	return nil
}

// rotate replaces the journal with txs.
func (j *journal) rotate(txs []*types.Transaction) error {
	if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
		return fmt.Errorf("txpool: journal dir: %w", err)
	}
	tmp := j.path + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("txpool: rotate journal: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, tx := range txs {
		if err := rlp.Encode(w, tx); err != nil {
			f.Close()
			return fmt.Errorf("txpool: rotate journal: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("txpool: rotate journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("txpool: rotate journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("txpool: rotate journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("txpool: rotate journal: %w", err)
	}
	return j.open()
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
