package popm

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hemi-go/hemi/internal/pebblelog"
)

// stateKey holds the machine's State as JSON; one key written with one
// synced Set, so a crash leaves the previous or the new state, never a
// mix.
var stateKey = []byte("popm/state/v1")

// store persists the miner's state in pebble.
type store struct{ db *pebble.DB }

func openStore(dir string, log *slog.Logger) (*store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Log: log}})
	if err != nil {
		return nil, fmt.Errorf("popm: open state in %s: %w", dir, err)
	}
	return &store{db: db}, nil
}

func (s *store) load() (State, error) {
	var st State
	v, closer, err := s.db.Get(stateKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("popm: read state: %w", err)
	}
	defer closer.Close()
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("popm: decode state: %w", err)
	}
	return st, st.check()
}

func (s *store) save(st *State) error {
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("popm: encode state: %w", err)
	}
	if err := s.db.Set(stateKey, v, pebble.Sync); err != nil {
		return fmt.Errorf("popm: write state: %w", err)
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }
