package index

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// connectReady connects every block that can be connected. Only one
// goroutine connects at a time; a caller that finds the connector busy
// leaves a kick so the busy one looks again before it stops.
func (ix *Index) connectReady() error {
	for {
		ix.kick.Store(true)
		if !ix.connMu.TryLock() {
			return nil
		}
		var err error
		for err == nil && ix.kick.Swap(false) {
			err = ix.connectLoop()
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

// connectLoop applies plans until there is nothing to do. ix.connMu held.
func (ix *Index) connectLoop() error {
	for {
		p := ix.plan()
		if p.fork == nil {
			return nil
		}
		if err := ix.apply(p); err != nil {
			return err
		}
	}
}

// plan is a move of the connected chain: disconnect back to fork, then
// connect blocks along the best header chain.
type plan struct {
	fork       *node
	disconnect []*node // newest first
	connect    []*node // oldest first
}

// plan finds the most-work chain whose blocks are all stored: the best
// header chain up to its first block without data. It moves there when that
// has more work than the connected tip; fork is nil when nothing moves.
func (ix *Index) plan() plan {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	tip := ix.main[len(ix.main)-1]
	fh := ix.forkHeight()
	var p plan
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

// apply writes one atomic batch: events for the disconnected blocks, the
// entries of newly connected blocks (as many whole blocks as fit in
// BatchTxs), canonical heights, and every index tip. Then it updates the
// in-memory chain and publishes the events. ix.connMu held.
func (ix *Index) apply(p plan) error {
	oldTip := p.fork
	if len(p.disconnect) > 0 {
		oldTip = p.disconnect[0]
	}
	b := ix.db.NewBatchWithSize(1 << 20)
	defer b.Close()
	seq := ix.nextSeq
	putEvent := func(kind EventKind, n *node) {
		_ = b.Set(eventKey(seq), encodeEvent(&storedEvent{Kind: kind, ID: n.id, Height: n.height, Hash: n.hash}), nil)
		seq++
	}
	for _, n := range p.disconnect {
		putEvent(EventDisconnected, n)
	}

	var (
		connected []*node
		txs       int
		w         = newEntryWriter(b)
	)
	for _, n := range p.connect {
		if len(connected) > 0 && txs >= ix.cfg.BatchTxs {
			break
		}
		if !n.has(statusIndexed) {
			bd, err := ix.takeBlock(n)
			if err != nil {
				return err
			}
			for _, x := range dataIndexes {
				x.write(w, n, bd)
			}
			txs += len(bd.txids)
		}
		_ = b.Set(heightKey(n.height), encodeCanon(n.id, &n.hash), nil)
		_ = b.Set(idKey(pfxHeader, n.id), n.recordWith(n.flags()|statusIndexed), nil)
		putEvent(EventConnected, n)
		connected = append(connected, n)
	}
	newTip := p.fork
	if len(connected) > 0 {
		newTip = connected[len(connected)-1]
	}
	for h := newTip.height + 1; h <= oldTip.height; h++ {
		_ = b.Delete(heightKey(h), nil)
	}
	tipVal := encodeTip(newTip.id, &newTip.hash)
	for _, name := range indexNames {
		_ = b.Set(tipKey(name), tipVal, nil)
	}

	opts := pebble.NoSync
	if time.Since(ix.lastSync) >= ix.cfg.SyncInterval {
		opts = pebble.Sync
	}
	if err := b.Commit(opts); err != nil {
		return fmt.Errorf("index: commit blocks up to %s: %w", newTip.hash, err)
	}
	if opts == pebble.Sync {
		ix.lastSync = time.Now()
	}

	ix.mu.Lock()
	ix.main = append(ix.main[:p.fork.height+1], connected...)
	for _, n := range connected {
		n.setFlag(statusIndexed)
	}
	ix.mu.Unlock()

	ix.nextSeq = seq
	ix.publish(seq)

	if len(p.disconnect) > 0 {
		ix.m.reorgs.Inc()
		ix.m.blocksDisconnected.Add(float64(len(p.disconnect)))
		ix.log.Info("bitcoin reorg", "fork", p.fork.hash, "fork_height", p.fork.height,
			"disconnected", len(p.disconnect), "old_tip", oldTip.hash, "new_tip", newTip.hash)
	}
	ix.m.blocksConnected.Add(float64(len(connected)))
	ix.m.txsIndexed.Add(float64(txs))
	ix.m.blockHeight.Set(float64(newTip.height))
	ix.log.Debug("blocks connected", "tip", newTip.hash, "height", newTip.height, "blocks", len(connected), "txs", txs)
	return nil
}
