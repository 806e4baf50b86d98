package index

import (
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// The connector moves the connected chain. One goroutine at a time runs it
// (whoever holds connMu). It stages blocks into an open batch and commits
// the batch when it is large (pebble then takes it as a flushable batch,
// skipping memtable inserts), when the chain has caught up with the best
// header, when it holds a reorg, or after MaxBatchDelay. Until the commit,
// nothing of the staged blocks is visible, on disk or in memory.
//
// A batch committed because it is full, during a sync, commits in the
// background (commitBatch): one goroutine sorts it into a pebble batch,
// commits it (synced) and publishes it, while the connector stages the
// next batch into its other writer on top of it. At most one batch is in
// flight, and every other path (a batch that stores the unspent set,
// holds a reorg, reaches the best header or is forced; a disconnect; an
// abort; IndexFork; Close) first waits for it (waitCommit), so commits
// and their publications stay in chain order and the write order of
// Invariant 1 is unchanged: a batch is published only after it is synced.
// The staged state never reads what an in-flight batch writes: the only
// database reads while connecting are the unspent set's misses, whose p
// rows only a set flush writes, and set flushes commit in the foreground.

// openBatch is the staged, uncommitted move of the connected chain.
type openBatch struct {
	w         *entryWriter
	fork      *node   // committed tip it builds on (or reorg fork point)
	oldTip    *node   // committed tip when opened
	connected []*node // staged blocks, oldest first
	reorg     bool    // holds disconnect events
	txs       int
	seq       uint64 // next event sequence number after the staged events
	opened    time.Time
}

func (o *openBatch) tip() *node {
	if len(o.connected) > 0 {
		return o.connected[len(o.connected)-1]
	}
	return o.fork
}

// connectReady connects every block that can be connected. A caller that
// finds the connector busy leaves a kick so the busy one looks again
// before it stops.
func (ix *Index) connectReady() error {
	for {
		ix.kick.Store(true)
		if !ix.connMu.TryLock() {
			return nil
		}
		var err error
		for err == nil && ix.kick.Swap(false) {
			err = ix.connectLoop(false)
		}
		ix.connMu.Unlock()
		if err != nil {
			return err
		}
		if !ix.kick.Load() {
			return nil
		}
	}
}

// flushLater runs when an open batch has waited MaxBatchDelay.
func (ix *Index) flushLater() {
	if ix.enter() != nil {
		return
	}
	defer ix.leave()
	ix.connMu.Lock()
	ix.timerArmed = false
	err := ix.connectLoop(true)
	ix.connMu.Unlock()
	if err != nil {
		ix.log.Error("connect blocks failed", "err", err)
		return
	}
	if ix.kick.Load() {
		if err := ix.connectReady(); err != nil {
			ix.log.Error("connect blocks failed", "err", err)
		}
	}
}

// connectLoop stages every ready block, then commits the open batch when it
// should not wait any longer (always when force). ix.connMu held.
func (ix *Index) connectLoop(force bool) error {
	for {
		p := ix.plan()
		if p.flushFirst {
			if err := ix.commitOpen(); err != nil {
				return err
			}
			continue
		}
		if p.fork == nil {
			break
		}
		more, err := ix.stage(p)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	o := ix.open
	if o == nil {
		if force {
			return ix.waitCommit()
		}
		return nil
	}
	ix.mu.RLock()
	caughtUp := ix.hdrChain[len(ix.hdrChain)-1] == o.tip()
	ix.mu.RUnlock()
	if force || caughtUp || o.reorg || time.Since(o.opened) >= ix.cfg.MaxBatchDelay {
		return ix.commitOpen()
	}
	if !ix.timerArmed {
		ix.timerArmed = true
		time.AfterFunc(ix.cfg.MaxBatchDelay-time.Since(o.opened), ix.flushLater)
	}
	return nil
}

// plan is a move of the connected chain: disconnect back to fork, then
// connect blocks along the best header chain.
type plan struct {
	fork       *node
	disconnect []*node // newest first
	connect    []*node // oldest first
	flushFirst bool    // commit the open batch, then plan again
}

// plan finds the most-work chain whose blocks are all stored: the best
// header chain up to its first block without data. It moves there when that
// has more work than the current (staged or committed) tip; fork is nil
// when nothing moves.
func (ix *Index) plan() plan {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var p plan
	var tip *node
	var fh int32
	if o := ix.open; o != nil {
		tip = o.tip()
		if int(tip.height) >= len(ix.hdrChain) || ix.hdrChain[tip.height] != tip {
			// The best header chain left the staged chain: commit it
			// and plan the reorg from the committed state.
			p.flushFirst = true
			return p
		}
		fh = tip.height
	} else if f := ix.inflight; f != nil {
		// Build on the batch committing in the background; should the
		// best header chain have left it, wait for it and plan the
		// move from the committed state.
		tip = f.tip()
		if int(tip.height) >= len(ix.hdrChain) || ix.hdrChain[tip.height] != tip {
			p.flushFirst = true
			return p
		}
		fh = tip.height
	} else {
		tip = ix.main[len(ix.main)-1]
		fh = ix.forkHeight()
	}
	cand := ix.hdrChain[fh]
	end := fh
	for h := fh + 1; h < int32(len(ix.hdrChain)); h++ {
		n := ix.hdrChain[h]
		if !n.has(statusHaveData) {
			break
		}
		cand, end = n, h
	}
	if cand.work.cmp(tip.work) <= 0 {
		return p
	}
	p.fork = ix.hdrChain[fh]
	for h := tip.height; h > fh; h-- {
		p.disconnect = append(p.disconnect, ix.main[h])
	}
	p.connect = append(p.connect, ix.hdrChain[fh+1:end+1]...)
	return p
}

// stage adds p to the open batch (opening one), committing whenever the
// batch is full. It reports whether blocks of p are left for another plan.
// ix.connMu held.
func (ix *Index) stage(p plan) (bool, error) {
	if len(p.disconnect) > 0 && ix.open != nil {
		return true, ix.commitOpen()
	}
	o := ix.open
	if o == nil {
		oldTip := p.fork
		if len(p.disconnect) > 0 {
			oldTip = p.disconnect[0]
		}
		w := ix.freeWriter()
		w.reset()
		o = &openBatch{w: w, fork: p.fork, oldTip: oldTip, seq: ix.nextSeq, opened: time.Now()}
		ix.open = o
		for _, n := range p.disconnect {
			o.putEvent(EventDisconnected, n)
			o.reorg = true
			if err := ix.undoBlock(o.w, n, ix.utxos); err != nil {
				return false, errors.Join(fmt.Errorf("index: disconnect block %s: %w", n.hash, err), ix.abortOpen())
			}
		}
	}
	for i, n := range p.connect {
		bd, err := ix.takeBlock(n)
		if errors.Is(err, ErrCorrupt) {
			// Stop before n; it is fetched again and the next plan
			// resumes there.
			return false, ix.forgetData(n, err)
		}
		if err != nil {
			return false, err
		}
		if !n.has(statusIndexed) {
			for _, x := range dataIndexes {
				x.write(o.w, n, bd)
			}
			o.txs += len(bd.txids)
		}
		// The unspent set moves with every connect, also of a block
		// indexed before (a reorg back onto it); its records are then
		// rewritten with the same content.
		if err := applyBlock(o.w, n, bd, ix.utxos); err != nil {
			return false, errors.Join(fmt.Errorf("index: connect block %s: %w", n.hash, err), ix.abortOpen())
		}
		o.w.put(heightKey(n.height), encodeCanon(n.id, &n.hash))
		o.w.put(idKey(pfxIndexed, n.id), nil)
		o.putEvent(EventConnected, n)
		o.connected = append(o.connected, n)
		if o.w.memSize >= ix.batchBytes {
			return i+1 < len(p.connect), ix.commitBatch(true)
		}
	}
	return false, nil
}

// abortOpen drops the open batch after a failure half-way through a
// block: nothing of it was committed. The unspent set in memory held its
// changes, so it is rebuilt from the set tip up to the committed tip. The
// blocks are planned again from the committed tip. ix.connMu held.
func (ix *Index) abortOpen() error {
	if ix.open != nil {
		ix.open.w.reset()
		ix.open = nil
	}
	// The replay starts from the committed chain, so the batch in
	// flight must have landed (or failed, which replays too).
	if err := ix.waitCommit(); err != nil {
		return err
	}
	return ix.replaySet()
}

// freeWriter returns a writer no batch in flight uses. ix.connMu held.
func (ix *Index) freeWriter() *entryWriter {
	for i, w := range ix.writers {
		if w == nil {
			w = newEntryWriter()
			// Sized once for a whole batch (pebble's estimate is
			// about 250 bytes per entry), so a sync does not copy
			// the refs again and again while they grow.
			w.refs = make([]entryRef, 0, ix.batchBytes/200)
			ix.writers[i] = w
		}
		if ix.inflight == nil || ix.inflight.w != w {
			return w
		}
	}
	panic("index: both entry writers in use")
}

// waitCommit waits for the batch committing in the background, if any.
// If its commit failed, the staged state built on it is void: the open
// batch is dropped and the unspent set is replayed from the committed
// chain, and the error is returned. ix.connMu held.
func (ix *Index) waitCommit() error {
	if ix.inflight == nil {
		return nil
	}
	err := <-ix.inflightDone
	ix.inflight, ix.inflightDone = nil, nil
	if err == nil {
		return nil
	}
	if ix.open != nil {
		ix.open.w.reset()
		ix.open = nil
	}
	ix.nextSeq = ix.published.Load()
	return errors.Join(err, ix.replaySet())
}

// replaySet rebuilds the in-memory changes of the unspent set: it empties
// them and applies the connected blocks above the set tip again (their
// change records are stored already; applying rewrites the same ones,
// which are dropped here). Open runs it after a crash or restart.
// ix.connMu held.
func (ix *Index) replaySet() error {
	ix.utxos.clear()
	ix.mu.RLock()
	from := ix.setTip
	above := append([]*node(nil), ix.main[from.height+1:]...)
	ix.mu.RUnlock()
	w := newEntryWriter()
	for _, n := range above {
		bd, err := ix.takeBlock(n)
		if err != nil {
			return fmt.Errorf("index: replay unspent set at block %s: %w", n.hash, err)
		}
		if err := applyBlock(w, n, bd, ix.utxos); err != nil {
			return fmt.Errorf("index: replay unspent set at block %s: %w", n.hash, err)
		}
		w.reset()
	}
	if len(above) > 0 {
		ix.log.Info("bitcoin unspent set replayed", "from", from.height, "blocks", len(above))
	}
	return nil
}

// flushSetNow stores the unspent set's changes held in memory, with no
// open batch (IndexFork needs the stored set at the block tip). ix.connMu
// held.
func (ix *Index) flushSetNow() error {
	if !ix.utxos.isDirty() {
		return nil
	}
	ix.mu.RLock()
	tip := ix.main[len(ix.main)-1]
	ix.mu.RUnlock()
	w := ix.freeWriter()
	w.reset()
	ix.utxos.flush(w)
	w.put(tipKey(utxoIndexName), encodeTip(tip.id, &tip.hash))
	b := ix.db.NewBatchWithSize(w.size() + 16*len(w.refs))
	defer b.Close()
	w.writeTo(b)
	w.reset()
	if err := b.Commit(pebble.Sync); err != nil {
		return errors.Join(fmt.Errorf("index: store unspent set at %s: %w", tip.hash, err), ix.replaySet())
	}
	ix.utxos.flushed()
	snap := ix.db.NewSnapshot()
	ix.mu.Lock()
	old := ix.replaceSnap(snap)
	ix.setTip = tip
	ix.mu.Unlock()
	closeSnapshot(old)
	return nil
}

func (o *openBatch) putEvent(kind EventKind, n *node) {
	o.w.put(eventKey(o.seq), encodeEvent(&storedEvent{Kind: kind, ID: n.id, Height: n.height, Hash: n.hash}))
	o.seq++
}

// commitOpen commits the open batch with the tips, in the foreground,
// after any batch in flight. ix.connMu held.
func (ix *Index) commitOpen() error { return ix.commitBatch(false) }

// commitBatch commits the open batch with the tips, then updates the
// in-memory chain and publishes the events (writeBatch). With background,
// a batch that does not store the unspent set or hold a reorg commits in
// a goroutine while the connector goes on (see the top of this file);
// otherwise, or with no open batch, it returns once everything staged is
// committed. ix.connMu held.
func (ix *Index) commitBatch(background bool) error {
	o := ix.open
	if o == nil {
		return ix.waitCommit()
	}
	ix.open = nil

	newTip := o.tip()
	for h := newTip.height + 1; h <= o.oldTip.height; h++ {
		o.w.del(heightKey(h))
	}
	tipVal := encodeTip(newTip.id, &newTip.hash)
	for _, name := range indexNames {
		o.w.put(tipKey(name), tipVal)
	}
	// Commits are ordered, and o was staged on the batch in flight: if
	// that failed, o is void (waitCommit dropped the staged state).
	if err := ix.waitCommit(); err != nil {
		o.w.reset()
		return err
	}
	// The unspent set is stored with the batch that reaches the best
	// header (a node at the tip stores it with every block), that holds
	// a reorg (so the set tip stays on the connected chain), or whose
	// changes outgrew their memory.
	ix.mu.RLock()
	caughtUp := ix.hdrChain[len(ix.hdrChain)-1] == newTip
	ix.mu.RUnlock()
	flushSet := caughtUp || o.reorg || ix.utxos.full()
	if flushSet {
		ix.utxos.flush(o.w)
		o.w.put(tipKey(utxoIndexName), tipVal)
	}
	ix.nextSeq = o.seq
	ix.utxoMetrics()
	if background && !flushSet && !o.reorg {
		done := make(chan error, 1)
		ix.inflight, ix.inflightDone = o, done
		go func() { done <- ix.writeBatch(o, false) }()
		return nil
	}
	if err := ix.writeBatch(o, flushSet); err != nil {
		ix.nextSeq = ix.published.Load()
		return errors.Join(err, ix.replaySet())
	}
	if flushSet {
		ix.utxos.flushed()
		ix.utxoMetrics()
	}
	return nil
}

// writeBatch sorts o into a pebble batch, commits it synced, then moves
// the in-memory chain and publishes the events. It touches neither the
// unspent set in memory nor the connector's state, so it may run on its
// own goroutine while the connector stages the next batch; the caller
// handles a failure (the in-memory chain is then unchanged).
func (ix *Index) writeBatch(o *openBatch, flushSet bool) error {
	newTip := o.tip()
	if err := ix.commitEntries(o.w); err != nil {
		ix.log.Warn("bitcoin index commit failed", "tip", newTip.hash, "err", err)
		return fmt.Errorf("index: commit blocks up to %s: %w", newTip.hash, err)
	}
	// Queries read the stored unspent set through a snapshot taken
	// with the in-memory chain, so they never see it ahead of ix.main
	// and ix.setTip.
	snap := ix.db.NewSnapshot()

	ix.mu.Lock()
	ix.main = append(ix.main[:o.fork.height+1], o.connected...)
	for _, n := range o.connected {
		n.setFlag(statusIndexed)
	}
	if flushSet {
		ix.setTip = newTip
	}
	ix.dropStalePending(newTip.height)
	old := ix.replaceSnap(snap)
	ix.mu.Unlock()
	closeSnapshot(old)

	ix.publish(o.seq)

	if o.reorg {
		disc := o.oldTip.height - o.fork.height
		ix.m.reorgs.Inc()
		ix.m.blocksDisconnected.Add(float64(disc))
		ix.log.Info("bitcoin reorg", "fork", o.fork.hash, "fork_height", o.fork.height,
			"disconnected", disc, "old_tip", o.oldTip.hash, "new_tip", newTip.hash)
	}
	ix.m.blocksConnected.Add(float64(len(o.connected)))
	ix.m.txsIndexed.Add(float64(o.txs))
	ix.m.blockHeight.Set(float64(newTip.height))
	ix.log.Debug("blocks connected", "tip", newTip.hash, "height", newTip.height,
		"blocks", len(o.connected), "txs", o.txs)
	return nil
}

// commitEntries commits w's entries durably and empties w: a full batch
// (a sync's) as an ingested sstable (ingest.go), any other as a synced
// batch. Synced either way: the tip and events are published next, so they
// must survive a kill -9 (pebble keeps unsynced WAL writes in process
// memory). Batching many blocks per commit keeps fsyncs rare.
func (ix *Index) commitEntries(w *entryWriter) error {
	defer w.reset()
	if w.memSize >= ix.batchBytes {
		if done, err := ix.ingester.ingest(w); done || err != nil {
			return err
		}
	}
	b := ix.db.NewBatchWithSize(w.size() + 16*len(w.refs))
	defer b.Close()
	w.writeTo(b)
	return b.Commit(pebble.Sync)
}

// utxoMetrics publishes the unspent set cache's counters. ix.connMu held.
func (ix *Index) utxoMetrics() {
	s := ix.utxos
	ix.m.utxoMisses.Add(float64(s.misses - ix.utxoSeen.misses))
	ix.m.utxoEvicted.Add(float64(s.evicted - ix.utxoSeen.evicted))
	ix.utxoSeen.misses, ix.utxoSeen.evicted = s.misses, s.evicted
	ix.m.utxoCacheBytes.Set(float64(s.memBytes()))
}

// dropStalePending forgets decoded blocks at or below height that did not
// connect (side forks): a reorg onto them reads them from disk. ix.mu held.
func (ix *Index) dropStalePending(height int32) {
	ix.pendMu.Lock()
	defer ix.pendMu.Unlock()
	for id, bd := range ix.pending {
		if int(id) < len(ix.nodes) && ix.nodes[id].height <= height {
			delete(ix.pending, id)
			ix.pendingBytes -= bd.memSize()
		}
	}
}

// IndexFork indexes the stored blocks of a side fork up to hash (and any
// unindexed ancestors), without making them canonical and without events,
// so queries as of hash can be answered — e.g. to re-execute an L2 block
// whose Bitcoin view is on a fork this node never followed. Every block
// from the fork point to hash must be stored (AcceptBlock); otherwise the
// error wraps ErrNotFound and names the first missing block.
func (ix *Index) IndexFork(hash chainhash.Hash) error {
	if err := ix.enter(); err != nil {
		return err
	}
	defer ix.leave()
	ix.connMu.Lock()
	defer ix.connMu.Unlock()
	if err := ix.commitOpen(); err != nil {
		return err
	}
	// The fork's set is built from the stored one at the block tip.
	if err := ix.flushSetNow(); err != nil {
		return err
	}

	ix.mu.RLock()
	n := ix.byHash[hash]
	var todo []*node
	for m := n; m != nil && !m.has(statusIndexed); m = m.parent {
		todo = append(todo, m)
	}
	ix.mu.RUnlock()
	if n == nil {
		return fmt.Errorf("fork block %s: %w", hash, ErrUnknownBlock)
	}
	for i := len(todo) - 1; i >= 0; i-- {
		if !todo[i].has(statusHaveData) {
			return fmt.Errorf("fork block %s at height %d is not stored: %w", todo[i].hash, todo[i].height, ErrNotFound)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	w := ix.freeWriter()
	w.reset()
	// The fork's unspent set is replayed from the fork point, through
	// the fork blocks indexed before (their records are rewritten as
	// they were) and the new ones.
	ix.mu.RLock()
	fork := todo[len(todo)-1].parent
	for !ix.onMain(fork) {
		fork = fork.parent
	}
	var replay []*node
	for m := todo[0]; m != fork; m = m.parent {
		replay = append(replay, m)
	}
	ix.mu.RUnlock()
	st, err := ix.newForkSet(fork)
	if err != nil {
		return err
	}
	for i := len(replay) - 1; i >= 0; i-- {
		m := replay[i]
		bd, err := ix.takeBlock(m)
		if errors.Is(err, ErrCorrupt) {
			w.reset()
			return errors.Join(ix.forgetData(m, err), fmt.Errorf("fork block %s: %w", m.hash, ErrNotFound))
		}
		if err != nil {
			w.reset()
			return err
		}
		if !m.has(statusIndexed) {
			for _, x := range dataIndexes {
				x.write(w, m, bd)
			}
			w.put(idKey(pfxIndexed, m.id), nil)
		}
		if err := applyBlock(w, m, bd, st); err != nil {
			w.reset()
			return fmt.Errorf("index: index fork block %s: %w", m.hash, err)
		}
	}
	b := ix.db.NewBatchWithSize(w.size() + 16*len(w.refs))
	defer b.Close()
	w.writeTo(b)
	w.reset()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index: index fork up to %s: %w", hash, err)
	}
	snap := ix.db.NewSnapshot()
	ix.mu.Lock()
	for _, m := range todo {
		m.setFlag(statusIndexed)
	}
	old := ix.replaceSnap(snap)
	ix.mu.Unlock()
	closeSnapshot(old)
	ix.log.Info("side fork indexed", "tip", hash, "blocks", len(todo))
	return nil
}

// closeSnapshot closes a snapshot no query can hold any more (it was
// replaced under ix.mu's write lock).
func closeSnapshot(s *pebble.Snapshot) {
	if s != nil {
		_ = s.Close()
	}
}
