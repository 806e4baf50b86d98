package signer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// record is what the signer signed for one (batch, attempt).
type record struct {
	Txid chainhash.Hash `json:"txid"`
}

// store keeps the signer's records in pebble, one key per (batch,
// attempt) written with a synced Set before the signature is posted, so
// after a crash the record exists whenever a signature may have left.
type store struct{ db *pebble.DB }

func openStore(dir string, log *slog.Logger) (*store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Log: log}})
	if err != nil {
		return nil, fmt.Errorf("signer: open state in %s: %w", dir, err)
	}
	return &store{db: db}, nil
}

func signedKey(batch uint64, attempt uint32) []byte {
	k := make([]byte, 0, 21)
	k = append(k, "signed/v1/"...)
	k = binary.BigEndian.AppendUint64(k, batch)
	return binary.BigEndian.AppendUint32(k, attempt)
}

// get returns the record of (batch, attempt), ok false when none.
func (s *store) get(batch uint64, attempt uint32) (record, bool, error) {
	v, closer, err := s.db.Get(signedKey(batch, attempt))
	if errors.Is(err, pebble.ErrNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("signer: read record: %w", err)
	}
	defer closer.Close()
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return record{}, false, fmt.Errorf("signer: decode record of batch %d attempt %d: %w", batch, attempt, err)
	}
	return r, true, nil
}

// put stores the record of (batch, attempt), synced.
func (s *store) put(batch uint64, attempt uint32, r record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := s.db.Set(signedKey(batch, attempt), v, pebble.Sync); err != nil {
		return fmt.Errorf("signer: write record: %w", err)
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }
