package ha

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/hashicorp/raft"
)

// checkInterval is how often the leadership loop looks at the member's
// role and health (raft's NotifyCh wakes it at once on a change).
const checkInterval = 25 * time.Millisecond

// stallBlocks: a leader whose chain has not advanced for this many block
// times hands leadership over (DESIGN 9).
const stallBlocks = 3

// Status is a member's state as the leadership loop judges it; members
// query each other's over the raft port (QueryStatus) to pick whom to
// hand leadership to, and the admin endpoint serves it.
type Status struct {
	ID       common.Address `json:"id"`
	Address  string         `json:"address"`
	State    string         `json:"state"` // raft's: Leader, Follower, Candidate, Shutdown
	Leader   string         `json:"leader,omitempty"`
	LeaderID string         `json:"leader_id,omitempty"`
	Term     uint64         `json:"term"`
	// RPC is the member's JSON-RPC URL as the other members reach it
	// (Config.RPCURL): where they forward transactions while it leads.
	RPC     string `json:"rpc,omitempty"`
	Applied *Ref   `json:"applied,omitempty"`
	// Applying is the committed block the member is storing right now
	// (absent between blocks): its chain head may already be it.
	Applying *Ref `json:"applying,omitempty"`
	Head     Ref  `json:"head"`
	// BTCIndex and BTCAnnounced are the Bitcoin index height and the
	// best height the Bitcoin peers announce; BTCPeers how many peers.
	BTCIndex     int32 `json:"btc_index"`
	BTCAnnounced int32 `json:"btc_announced"`
	BTCPeers     int   `json:"btc_peers"`
	// CaughtUp: the member may lead (Why says why not).
	CaughtUp  bool   `json:"caught_up"`
	Why       string `json:"why,omitempty"`
	Producing bool   `json:"producing"`
	// LogFirst and LogLast are the raft log's first and last index: the
	// log holds LogLast-LogFirst+1 entries (a bounded tail).
	LogFirst uint64 `json:"log_first"`
	LogLast  uint64 `json:"log_last"`
}

// Status is this member's state now.
func (g *Group) Status() Status {
	// The head first, then what the FSM applied: the head moves inside
	// the FSM's store, between its setting applying and last, so a head
	// read first is last, applying, or (a block gossip stored before
	// the log's entry) ahead of both.
	h := g.cfg.Chain.Head()
	applied, applying := g.fsm.applyState()
	st := Status{ID: g.cfg.ID, Address: g.Address(), State: raft.Shutdown.String(), Applied: applied, Applying: applying,
		Head: Ref{Number: h.Number.Uint64(), Hash: h.Hash()}, Producing: g.producing.Load(), RPC: g.cfg.RPCURL}
	if r := g.raft.Load(); r != nil {
		st.State = r.State().String()
		addr, id := r.LeaderWithID()
		st.Leader, st.LeaderID = string(addr), string(id)
		st.Term = r.CurrentTerm()
	}
	if l := g.logs.Load(); l != nil {
		st.LogFirst, _ = l.FirstIndex()
		st.LogLast, _ = l.LastIndex()
	}
	st.BTCIndex, st.BTCAnnounced, st.BTCPeers = g.cfg.Bitcoin.SyncHeights()
	st.Why = g.notCaughtUp(st)
	st.CaughtUp = st.Why == ""
	return st
}

// notCaughtUp says why a member in state st may not lead ("" if it may):
// its Bitcoin index must be at the tip its Bitcoin peers announce (within
// MaxBitcoinLag blocks), its FSM must not be waiting for its chain, and
// its chain head must be the last committed block, or the committed
// block the FSM is storing at that moment (the head moves before the
// FSM records the block as applied; judging that moment as "behind"
// stopped a busy leader's producer and restarted it, which built the
// next block at once, about a block time early, and looked for a member
// to hand leadership to: twice in 40 s of `hemi bench net`).
func (g *Group) notCaughtUp(st Status) string {
	switch {
	case st.BTCPeers == 0:
		return "no Bitcoin peers: the Bitcoin tip is unknown"
	case st.BTCIndex+g.cfg.MaxBitcoinLag < st.BTCAnnounced:
		return fmt.Sprintf("Bitcoin index at %d, its peers announce %d", st.BTCIndex, st.BTCAnnounced)
	}
	if w := g.fsm.waitingFor(); w != "" {
		return "chain behind the group: " + w
	}
	if st.Applied != nil && st.Head.Hash != st.Applied.Hash && (st.Applying == nil || st.Head.Hash != st.Applying.Hash) {
		return fmt.Sprintf("chain head %d %s is not the last committed block %d %s", st.Head.Number, st.Head.Hash,
			st.Applied.Number, st.Applied.Hash)
	}
	return ""
}

// producer is the block producer's run for one stretch of leadership.
type producer struct {
	cancel context.CancelFunc
	done   chan error
}

// pendingBarrier is a new leader's barrier in its term, awaited.
type pendingBarrier struct {
	term  uint64
	since time.Time
	done  chan error
}

// lead is the leadership loop: the producer runs only while this member
// leads, has applied every committed entry (a barrier in the current
// term) and is caught up. A member that leads but is not caught up (a
// stale member that won an election, or a leader whose Bitcoin index fell
// behind) does not build and hands leadership to a caught-up member; a
// leader whose chain does not advance for stallBlocks block times does
// the same.
func (g *Group) lead(ctx context.Context, r *raft.Raft, notify <-chan bool) error {
	tick := time.NewTicker(checkInterval)
	defer tick.Stop()
	var (
		p           *producer
		barrierTerm uint64
		lastHead    common.Hash
		advanced    time.Time
		lastHandOff time.Time
		pb          *pendingBarrier
	)
	stopProducer := func() error {
		if p == nil {
			return nil
		}
		p.cancel()
		err := <-p.done
		p = nil
		g.producing.Store(false)
		g.m.producing.Set(0)
		return err
	}
	defer func() {
		_ = stopProducer()
		if r.State() == raft.Leader {
			// To a caught-up member if one answers, else to whichever
			// member raft finds most up to date (which hands it on if it is
			// not caught up).
			hctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			err := g.handOver(hctx, r, "shutting down")
			cancel()
			if err != nil {
				g.m.transfers.Inc()
				err = r.LeadershipTransfer().Error()
			}
			if err != nil {
				g.log.Info("leadership not handed over on shutdown", "err", err)
			}
		}
		g.m.leader.Set(0)
	}()
	// handOver gives leadership to a caught-up member, at most once per
	// block time (a refused or failed transfer is tried again later).
	handOver := func(why string) {
		if time.Since(lastHandOff) < g.cfg.BlockTime {
			return
		}
		lastHandOff = time.Now()
		if err := g.handOver(ctx, r, why); err != nil {
			g.log.Warn("leader cannot hand leadership over", "why", why, "err", err)
		}
	}
	for {
		var pdone chan error
		if p != nil {
			pdone = p.done
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-pdone:
			p = nil
			g.producing.Store(false)
			if err != nil {
				return fmt.Errorf("ha: block producer: %w", err)
			}
			return nil
		case <-notify:
		case <-tick.C:
		}
		if r.State() != raft.Leader {
			if barrierTerm != 0 {
				g.log.Info("no longer leading the sequencer group", "term", barrierTerm, "state", r.State())
				barrierTerm = 0
			}
			g.m.leader.Set(0)
			if p != nil {
				g.log.Info("leadership lost: block producer stops")
				if err := stopProducer(); err != nil {
					return fmt.Errorf("ha: block producer: %w", err)
				}
			}
			continue
		}
		g.m.leader.Set(1)
		if term := r.CurrentTerm(); barrierTerm != term {
			// Every entry committed before this term, an earlier leader's
			// in-flight block included, is applied before this member
			// builds on its head. The barrier is awaited here without
			// blocking the loop: a member whose FSM cannot apply a committed
			// block (its chain lacks the Bitcoin view) is behind and hands
			// leadership over.
			if pb == nil || pb.term != term {
				pb = &pendingBarrier{term: term, since: time.Now(), done: make(chan error, 1)}
				go func(done chan<- error) { done <- r.Barrier(0).Error() }(pb.done)
			}
			select {
			case err := <-pb.done:
				pb = nil
				if err != nil {
					g.log.Info("new leader's barrier failed; trying again", "term", term, "err", err)
					continue
				}
				barrierTerm = term
				g.log.Info("leading the sequencer group", "term", term, "applied", g.fsm.lastApplied())
			default:
				if time.Since(pb.since) > g.cfg.BlockTime {
					handOver("committed blocks not applied yet: " + g.fsm.waitingFor())
				}
				continue
			}
		}
		st := g.Status()
		if !st.CaughtUp {
			if p != nil {
				g.log.Warn("leader fell behind: block producer stops", "why", st.Why)
				if err := stopProducer(); err != nil {
					return fmt.Errorf("ha: block producer: %w", err)
				}
			}
			handOver(st.Why)
			continue
		}
		if p == nil {
			pctx, cancel := context.WithCancel(ctx)
			p = &producer{cancel: cancel, done: make(chan error, 1)}
			go func(done chan<- error) { done <- g.cfg.Producer.Run(pctx) }(p.done)
			g.producing.Store(true)
			g.m.producing.Set(1)
			lastHead, advanced = st.Head.Hash, time.Now()
			g.log.Info("block producer started", "head", st.Head.Number)
			continue
		}
		if st.Head.Hash != lastHead {
			lastHead, advanced = st.Head.Hash, time.Now()
			continue
		}
		if time.Since(advanced) > stallBlocks*g.cfg.BlockTime {
			why := fmt.Sprintf("chain has not advanced for %d block times (head %d)", stallBlocks, st.Head.Number)
			if err := stopProducer(); err != nil {
				return fmt.Errorf("ha: block producer: %w", err)
			}
			handOver(why)
			// If no member took over, the producer starts again on the next
			// tick and gets another stallBlocks block times.
		}
	}
}

// handOver transfers leadership to the caught-up member with the most
// applied blocks (at least as many as this member's), asking each
// member's status over its raft address.
func (g *Group) handOver(ctx context.Context, r *raft.Raft, why string) error {
	if sl := g.stream.Load(); sl != nil && sl.isIsolated() {
		return errors.New("this member is cut off (Isolate)")
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	self := raft.ServerID(g.cfg.ID.Hex())
	own := g.fsm.lastApplied()
	type cand struct {
		srv raft.Server
		st  Status
	}
	var (
		mu    sync.Mutex
		cands []cand
		wg    sync.WaitGroup
	)
	for _, s := range cf.Configuration().Servers {
		if s.ID == self || s.Suffrage != raft.Voter {
			continue
		}
		wg.Add(1)
		go func(s raft.Server) {
			defer wg.Done()
			st, err := QueryStatus(ctx, string(s.Address))
			if err != nil || !st.CaughtUp || string(st.ID.Hex()) != string(s.ID) {
				return
			}
			if own != nil && (st.Applied == nil || st.Applied.Number < own.Number) {
				return
			}
			mu.Lock()
			cands = append(cands, cand{s, st})
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	if len(cands) == 0 {
		return errors.New("no other member is caught up")
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return compareApplied(b.st.Applied, a.st.Applied)
	})
	to := cands[0].srv
	g.m.transfers.Inc()
	g.log.Info("handing leadership over", "why", why, "to", to.ID, "address", to.Address)
	if err := r.LeadershipTransferToServer(to.ID, to.Address).Error(); err != nil {
		return fmt.Errorf("transfer to %s: %w", to.ID, err)
	}
	return nil
}

// compareApplied orders applied references by number (nil first).
func compareApplied(a, b *Ref) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	case a.Number < b.Number:
		return -1
	case a.Number > b.Number:
		return 1
	}
	return 0
}
