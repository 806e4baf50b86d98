package pebblelog

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// replayedRe matches pebble's report of a write-ahead log's replay at
// open ("... replayed 28505 keys in 5701 batches").
var replayedRe = regexp.MustCompile(`replayed (\d+) keys in \d+ batches`)

// ReplayedKeys opens the database in dir read-only with o (nil: pebble's
// defaults; a database with its own comparer or merger needs them) and
// returns how many keys pebble replayed from its write-ahead logs, as
// pebble reports it: what the next open of dir must replay before it
// serves. Tests use it to check that a clean close leaves nothing to
// replay; dir is not changed.
func ReplayedKeys(dir string, o *pebble.Options) (int64, error) {
	var opts pebble.Options
	if o != nil {
		opts = *o
	}
	rec := &replayRecorder{}
	opts.ReadOnly, opts.Logger = true, rec
	db, err := pebble.Open(dir, &opts)
	if err != nil {
		return 0, err
	}
	if err := db.Close(); err != nil {
		return 0, err
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.seen {
		return 0, errors.New("pebblelog: pebble reported no write-ahead log replay")
	}
	return rec.keys, nil
}

// replayRecorder is a pebble.Logger that sums the replayed keys pebble
// reports.
type replayRecorder struct {
	mu   sync.Mutex
	seen bool
	keys int64
}

func (r *replayRecorder) Infof(format string, args ...any) {
	m := replayedRe.FindStringSubmatch(fmt.Sprintf(format, args...))
	if m == nil {
		return
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.seen, r.keys = true, r.keys+n
	r.mu.Unlock()
}

func (r *replayRecorder) Errorf(string, ...any) {}

func (r *replayRecorder) Fatalf(format string, args ...any) {
	panic("pebble: " + fmt.Sprintf(format, args...))
}
