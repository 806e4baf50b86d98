package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	hemimetrics "github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/rpc"
)

// Defaults of RelayConfig.
const (
	// DefaultRelayTimeout bounds one request to the leader (a single
	// transaction, or one batch of a pool resend): members are on a LAN,
	// and a client waits for the answer.
	DefaultRelayTimeout = 2 * time.Second
	// DefaultRelayRetry is how often a pool resend that failed (leader
	// unreachable, or it lost leadership) is tried again.
	DefaultRelayRetry = 500 * time.Millisecond
)

// relayCheck is how often the relay looks at who leads; resendBatch is
// how many transactions one JSON-RPC batch of a resend carries (the
// leader admits such a batch in one pool call).
const (
	relayCheck  = 50 * time.Millisecond
	resendBatch = 100
)

// ErrLeaderUnreachable: a transaction the local pool did not keep could
// not be handed to the group's leader (none known, or it did not answer).
var ErrLeaderUnreachable = errors.New("ha: the sequencer group's leader cannot be reached")

// Leadership is what a Relay asks of its group member; *Group implements
// it.
//
// Concurrency: called from request goroutines and the relay's loop at
// once.
type Leadership interface {
	// IsLeader reports whether this member leads now.
	IsLeader() bool
	// LeaderRPC is the current leader's raft server id ("" when no
	// leader is known) and its JSON-RPC URL; the error says why the URL
	// of a known leader is not known (unreachable, or it announces none).
	LeaderRPC(ctx context.Context) (id, url string, err error)
	// ForgetLeaderRPC drops the leader's URL learned last, after a
	// request to it failed: the next look-up asks the leader again.
	ForgetLeaderRPC()
}

var _ Leadership = (*Group)(nil)

// RelayPool is the member's transaction pool as the relay reads it
// (*txpool.Pool).
//
// Concurrency: safe for concurrent use.
type RelayPool interface {
	// Content lists the pool's transactions per sender, nonce-sorted:
	// pending (executable) and queued (waiting for a nonce gap).
	Content() (pending, queued map[common.Address][]*types.Transaction)
	// Add adds transactions (what the member relayed, once it leads)
	// and returns one error per transaction.
	Add(txs []*types.Transaction) []error
}

// RelayConfig configures a Relay. It is not modified after NewRelay.
type RelayConfig struct {
	// Group is the member (required); ID its sealing address, sent as
	// rpc.ForwardedHeader so the leader's logs say who forwarded.
	Group Leadership
	ID    common.Address
	// Pool is the member's pool (required): resent to each new leader.
	Pool RelayPool
	// Chain is the member's chain: its head's nonces drop the kept
	// transactions that were mined. Without it they leave only by
	// KeepFor and the bounds (a new leader answers "nonce too low").
	Chain RelayChain
	// KeepTxs and KeepBytes bound the transactions kept after relaying
	// them (DefaultRelayKeepTxs, DefaultRelayKeepBytes: the oldest go
	// first), KeepFor how long one is kept unmined (DefaultRelayKeepFor).
	KeepTxs, KeepBytes int
	KeepFor            time.Duration
	// Timeout bounds one request to the leader (DefaultRelayTimeout);
	// Retry is how often a failed resend is tried again
	// (DefaultRelayRetry).
	Timeout, Retry time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// Relay takes the transactions sent to a group member that does not
// lead to the member that does (rpc.GroupRelay), so a wallet pointed at
// any member's JSON-RPC sees its transactions mined:
//
//   - Each transaction is kept in the member's own pool (the RPC server
//     adds it first), so the member includes it if it becomes leader.
//   - Each transaction the leader took is also kept by the relay until
//     the member's chain shows it mined (its sender's nonce passed it:
//     mined, or another of that nonce was), or for KeepFor (an hour), at
//     most KeepTxs (4,096) and KeepBytes (8 MiB), the oldest dropped
//     first: the pool may refuse what the leader took (a replacement it
//     finds underpriced, a full pool) or evict it later, and a leader
//     killed before mining it takes its own pool with it. The kept
//     transactions go to each new leader with the pool, and into the
//     member's own pool when it becomes leader.
//   - It is sent at once to the leader's JSON-RPC, whose URL the leader
//     announces in its Status (Config.RPCURL) over the raft port: no
//     list of member URLs to configure or keep in step with the group.
//   - Whenever the leader changes (another member wins, this one loses
//     leadership, or this member restarts), and after any failed send,
//     the relay sends its whole pool to the leader it sees, in batches;
//     the leader answers "already known" for what it has. A stopped or
//     killed leader's own pool is lost with it, but every member that
//     forwarded to it still holds its transactions and resends them.
//   - No loops: every request carries rpc.ForwardedHeader; a node that
//     does not include transactions itself refuses such a request
//     (rpc.ErrForwardedNotLeader) instead of forwarding it, and a leader
//     never forwards. A transaction thus crosses at most one member hop
//     (two from a follower, whose rpc.sequencer_urls may name any member).
//
// Metrics: hemi_ha_forward_total{result}: forwarded (the leader took a
// transaction, or already had it), refused (the leader's answer, passed
// to the client), failed (the leader could not be reached or no longer
// led: kept and resent), resent and resend_failed (transactions and
// attempts of pool resends). hemi_ha_relay_kept_txs and
// hemi_ha_relay_kept_bytes: the transactions kept after relaying them
// (against KeepTxs and KeepBytes); hemi_ha_relay_kept_dropped_total
// {reason}: those dropped unmined, oldest (a bound) or expired (KeepFor).
type Relay struct {
	cfg   RelayConfig
	log   *slog.Logger
	total *prometheus.CounterVec
	// failures counts failed sends; the loop resends the pool until a
	// resend began after the last one.
	failures atomic.Uint64
	// kept is what was relayed and not seen mined (keptSet).
	kept *keptSet

	mu      sync.Mutex
	clients map[string]*gethrpc.Client // by leader URL
	closed  bool
}

var _ rpc.GroupRelay = (*Relay)(nil)

// NewRelay checks cfg and returns the relay; nothing is sent before a
// transaction arrives or Run resends the pool.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Group == nil || cfg.Pool == nil {
		return nil, errors.New("ha: RelayConfig needs Group and Pool")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRelayTimeout
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRelayRetry
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "ha")
	}
	if cfg.KeepTxs <= 0 {
		cfg.KeepTxs = DefaultRelayKeepTxs
	}
	if cfg.KeepBytes <= 0 {
		cfg.KeepBytes = DefaultRelayKeepBytes
	}
	if cfg.KeepFor <= 0 {
		cfg.KeepFor = DefaultRelayKeepFor
	}
	r := &Relay{cfg: cfg, log: cfg.Logger, clients: map[string]*gethrpc.Client{}, kept: newKeptSet(cfg.KeepTxs, cfg.KeepBytes, newKeptMetrics(cfg.Registerer))}
	r.total = hemimetrics.Register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: hemimetrics.Namespace, Subsystem: "ha", Name: "forward_total",
		Help: "Transactions a member that does not lead sent to the group's leader, by result: forwarded, refused (the leader's answer), " +
			"failed (leader unreachable or no longer leading: kept and resent), resent (pool resends), resend_failed (resend attempts).",
	}, []string{"result"}))
	return r, nil
}

// Leads implements rpc.GroupRelay.
func (r *Relay) Leads() bool { return r.cfg.Group.IsLeader() }

// Relay implements rpc.GroupRelay: it sends raw to the leader within
// Timeout and keeps tx as it is (the RPC server decoded it and its pool
// recovered the sender: a relayed transaction costs one decode and one
// recovery). The leader's JSON-RPC error is returned as it came (code,
// message, data), except "already known" (the leader has it: success).
// A leader that cannot be reached, or that no longer leads, is no error
// when kept (the pool is resent by Run); otherwise it wraps
// ErrLeaderUnreachable.
func (r *Relay) Relay(ctx context.Context, tx *types.Transaction, raw []byte, kept bool) error {
	if tx == nil {
		return errors.New("ha: Relay needs the decoded transaction")
	}
	hash := tx.Hash()
	if r.cfg.Group.IsLeader() {
		// It became the leader after the RPC server looked.
		if kept {
			return nil
		}
		return fmt.Errorf("%w: this member has just become the leader and its pool did not keep the transaction: send it again", ErrLeaderUnreachable)
	}
	err := r.send(ctx, raw)
	switch {
	case err == nil || isAlreadyKnown(err):
		r.total.WithLabelValues("forwarded").Inc()
		r.keep(tx, raw)
		return nil
	case isAnswer(err) && !isNotLeader(err):
		r.total.WithLabelValues("refused").Inc()
		r.log.Debug("leader refused a relayed transaction", "hash", hash, "err", err)
		return err
	}
	r.total.WithLabelValues("failed").Inc()
	r.failures.Add(1)
	if kept {
		r.keep(tx, raw)
		r.log.Debug("transaction kept: the leader is resent the pool once it can be reached", "hash", hash, "err", err)
		return nil
	}
	return fmt.Errorf("%w: %v", ErrLeaderUnreachable, err)
}

// keep adds tx, encoded as raw, to the kept transactions.
func (r *Relay) keep(tx *types.Transaction, raw []byte) {
	evicted, err := r.kept.add(tx, raw, time.Now())
	if err != nil {
		r.log.Error("relayed transaction not kept", "err", err)
		return
	}
	if evicted > 0 {
		n, b := r.kept.size()
		r.log.Warn("relayed transactions dropped unmined: the bound on those kept was reached", "dropped", evicted,
			"kept", n, "bytes", b, "max_txs", r.cfg.KeepTxs, "max_bytes", r.cfg.KeepBytes)
	}
}

// pruneKept drops the kept transactions mined by the chain's head or
// expired.
func (r *Relay) pruneKept() {
	if n, _ := r.kept.size(); n == 0 {
		return // no head state to open
	}
	var st *state.StateDB
	if r.cfg.Chain != nil {
		var err error
		if st, err = r.cfg.Chain.StateAt(r.cfg.Chain.Head().Root); err != nil {
			r.log.Debug("head state unavailable to prune relayed transactions", "err", err)
			st = nil
		}
	}
	if mined, expired := r.kept.prune(st, time.Now(), r.cfg.KeepFor); expired > 0 {
		r.log.Warn("relayed transactions dropped unmined: kept for the longest allowed", "dropped", expired, "mined", mined, "keep_for", r.cfg.KeepFor)
	}
}

// includeKept adds the kept transactions to this member's pool once it
// leads (its pool may have refused or evicted some).
func (r *Relay) includeKept() {
	kept := r.kept.list()
	if len(kept) == 0 {
		return
	}
	txs := make([]*types.Transaction, len(kept))
	for i, t := range kept {
		txs[i] = t.tx
	}
	added := 0
	for _, err := range r.cfg.Pool.Add(txs) {
		if err == nil {
			added++
		}
	}
	r.log.Info("relayed transactions handed to this member's pool: it leads", "kept", len(kept), "added", added)
}

// send hands one transaction to the leader.
func (r *Relay) send(ctx context.Context, raw []byte) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	c, err := r.leader(ctx)
	if err != nil {
		return err
	}
	var got common.Hash
	err = c.CallContext(ctx, &got, "eth_sendRawTransaction", hexutil.Bytes(raw))
	if err != nil && !isAnswer(err) {
		r.cfg.Group.ForgetLeaderRPC()
	}
	return err
}

// leader is the client of the current leader's JSON-RPC (one per URL,
// kept: members are few), its requests marked rpc.ForwardedHeader.
func (r *Relay) leader(ctx context.Context) (*gethrpc.Client, error) {
	id, url, err := r.cfg.Group.LeaderRPC(ctx)
	switch {
	case err != nil:
		return nil, err
	case id == "":
		return nil, errors.New("no leader known (an election is under way)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("relay closed")
	}
	if c, ok := r.clients[url]; ok {
		return c, nil
	}
	c, err := gethrpc.DialOptions(context.Background(), url,
		gethrpc.WithHTTPClient(&http.Client{Timeout: r.cfg.Timeout}),
		gethrpc.WithHeader(rpc.ForwardedHeader, r.cfg.ID.Hex()))
	if err != nil {
		return nil, fmt.Errorf("leader %s JSON-RPC %q: %w", id, url, err)
	}
	r.clients[url] = c
	return c, nil
}

// Run resends the pool to the leader whenever the leader changes (and
// this member does not lead) and after a failed send, until ctx is done.
func (r *Relay) Run(ctx context.Context) error {
	defer r.close()
	tick := time.NewTicker(relayCheck)
	defer tick.Stop()
	var (
		sentTo   string // the leader the pool was last sent to (or this member, while it leads)
		doneAt   uint64 // r.failures when that resend began
		tried    string // the leader of the last attempt
		triedAt  time.Time
		warnedTo string // the leader a failure was last logged at Warn for
	)
	self := raft.ServerID(r.cfg.ID.Hex())
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if time.Since(pruned) >= relayPrune {
			r.pruneKept()
			pruned = time.Now()
		}
		if r.cfg.Group.IsLeader() {
			// Everything in the pool is this member's to include, and
			// so is what it relayed to the leaders before it.
			if sentTo != string(self) {
				r.includeKept()
			}
			sentTo, doneAt = string(self), r.failures.Load()
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		id, _, lerr := r.cfg.Group.LeaderRPC(lctx)
		cancel()
		failures := r.failures.Load()
		if id == "" || (id == sentTo && failures == doneAt) {
			continue
		}
		if id == tried && time.Since(triedAt) < r.cfg.Retry {
			continue
		}
		tried, triedAt = id, time.Now()
		var sent int
		err := lerr
		if err == nil {
			r.pruneKept()
			sent, err = r.resend(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.total.WithLabelValues("resend_failed").Inc()
			if warnedTo != id {
				warnedTo = id
				r.log.Warn("cannot send this member's pool to the group's leader yet; retrying", "leader", id, "err", err)
			} else {
				r.log.Debug("pool resend to the leader failed", "leader", id, "err", err)
			}
			continue
		}
		if id != sentTo {
			r.log.Info("pool sent to the group's leader", "leader", id, "txs", sent)
		}
		sentTo, doneAt, warnedTo = id, failures, ""
	}
}

// resend sends every transaction of the pool, then the kept ones the
// pool does not hold, to the leader, per sender in nonce order, in
// batches of resendBatch: the leader answers "already known" for those
// it has, and refuses those it mined (nonce too low). It fails if a
// batch cannot be delivered or the leader no longer leads.
func (r *Relay) resend(ctx context.Context) (int, error) {
	pending, queued := r.cfg.Pool.Content()
	var raws []hexutil.Bytes
	inPool := map[common.Hash]bool{}
	for _, set := range []map[common.Address][]*types.Transaction{pending, queued} {
		for _, txs := range set {
			for _, tx := range txs {
				b, err := tx.MarshalBinary()
				if err != nil {
					return 0, fmt.Errorf("encode pool transaction %s: %w", tx.Hash(), err)
				}
				raws = append(raws, b)
				inPool[tx.Hash()] = true
			}
		}
	}
	for _, t := range r.kept.list() {
		if !inPool[t.tx.Hash()] {
			raws = append(raws, t.raw)
		}
	}
	sent := 0
	for len(raws) > 0 {
		n := min(len(raws), resendBatch)
		batch := make([]gethrpc.BatchElem, n)
		hashes := make([]common.Hash, n)
		for i := range batch {
			batch[i] = gethrpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{raws[i]}, Result: &hashes[i]}
		}
		raws = raws[n:]
		if err := r.sendBatch(ctx, batch); err != nil {
			return sent, err
		}
		for _, el := range batch {
			switch {
			case el.Error == nil:
				sent++
			case isNotLeader(el.Error):
				return sent, el.Error
			case isAlreadyKnown(el.Error):
			default:
				r.log.Debug("leader refused a resent transaction", "err", el.Error)
			}
		}
	}
	r.total.WithLabelValues("resent").Add(float64(sent))
	return sent, nil
}

// sendBatch sends one batch to the leader within Timeout.
func (r *Relay) sendBatch(ctx context.Context, batch []gethrpc.BatchElem) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	c, err := r.leader(ctx)
	if err != nil {
		return err
	}
	if err := c.BatchCallContext(ctx, batch); err != nil {
		r.cfg.Group.ForgetLeaderRPC()
		return err
	}
	return nil
}

// close closes the leader clients.
func (r *Relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, c := range r.clients {
		c.Close()
	}
	clear(r.clients)
}

// isAnswer reports whether err is the leader's JSON-RPC answer, not a
// transport failure (go-ethereum gives an HTTP status as an Error too).
func isAnswer(err error) bool {
	var rerr gethrpc.Error
	var herr gethrpc.HTTPError
	return errors.As(err, &rerr) && !errors.As(err, &herr)
}

// isNotLeader: the node asked no longer leads and refused to forward.
func isNotLeader(err error) bool {
	return isAnswer(err) && strings.Contains(err.Error(), rpc.ErrForwardedNotLeader.Error())
}

// isAlreadyKnown: the leader's pool has the transaction.
func isAlreadyKnown(err error) bool {
	return isAnswer(err) && strings.Contains(err.Error(), txpool.ErrAlreadyKnown.Error())
}

// leaderURL is the leader's JSON-RPC URL as learned from its Status, or
// why it could not be (err, at: kept for leaderRetry, so neither the
// relay's loop nor a stream of requests asks the leader more often).
type leaderURL struct {
	id   raft.ServerID
	addr raft.ServerAddress
	url  string
	err  error
	at   time.Time
}

// leaderRetry is how long a failed look-up of the leader's URL stands.
const leaderRetry = 500 * time.Millisecond

// LeaderRPC implements Leadership: raft's current leader and the
// JSON-RPC URL it announces in its Status (Config.RPCURL), asked over
// its raft address once per leader and kept until ForgetLeaderRPC.
func (g *Group) LeaderRPC(ctx context.Context) (string, string, error) {
	r := g.raft.Load()
	if r == nil {
		return "", "", nil
	}
	addr, id := r.LeaderWithID()
	if id == "" {
		return "", "", nil
	}
	if c := g.leaderURL.Load(); c != nil && c.id == id && c.addr == addr && (c.err == nil || time.Since(c.at) < leaderRetry) {
		return string(id), c.url, c.err
	}
	u, err := g.askLeaderRPC(ctx, id, addr)
	g.leaderURL.Store(&leaderURL{id: id, addr: addr, url: u, err: err, at: time.Now()})
	return string(id), u, err
}

// askLeaderRPC asks the leader at addr for its JSON-RPC URL (this
// member's own from its config).
func (g *Group) askLeaderRPC(ctx context.Context, id raft.ServerID, addr raft.ServerAddress) (string, error) {
	u := g.cfg.RPCURL
	if string(id) != g.cfg.ID.Hex() {
		st, err := QueryStatus(ctx, string(addr))
		if err != nil {
			return "", err
		}
		if st.ID.Hex() != string(id) {
			return "", fmt.Errorf("ha: the leader's raft address %s answers as %s, not %s", addr, st.ID, id)
		}
		u = st.RPC
	}
	if u == "" {
		return "", fmt.Errorf("ha: the leader %s announces no JSON-RPC URL: set its ha.rpc_url (or rpc.listen)", id)
	}
	return u, nil
}

// ForgetLeaderRPC implements Leadership.
func (g *Group) ForgetLeaderRPC() { g.leaderURL.Store(nil) }
