package rpc

import (
	"context"
	"errors"
	"net/http"

	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/types"
)

// ForwardedHeader marks a transaction one sequencer group member
// forwards to the member it believes leads (its value is the sender's
// sealing address, for logs). Such a request is never forwarded again:
// a node that would forward it (it does not lead, or it is a follower)
// refuses it with ErrForwardedNotLeader, and the sending member, which
// kept the transaction in its pool, sends it again once it knows the new
// leader. So a transaction crosses at most one member-to-member hop and
// no forwarding loop can form.
const ForwardedHeader = "Hemi-Forwarded-By"

// ErrForwardedNotLeader answers a forwarded transaction (ForwardedHeader)
// that reached a node which does not include transactions itself: the
// leader changed between the sender's look-up and the request.
var ErrForwardedNotLeader = errors.New("not the sequencer group's leader: a forwarded transaction is not forwarded again")

// forwardedKey is the context key of a request's ForwardedHeader value.
type forwardedKey struct{}

// markForwarded puts a request's ForwardedHeader into its context:
// go-ethereum's HTTP server builds each call's context from the
// request's, so SendRawTransaction sees it.
func markForwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(ForwardedHeader); v != "" {
			r = r.WithContext(context.WithValue(r.Context(), forwardedKey{}, v))
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedBy is the ForwardedHeader of the request ctx belongs to ("",
// false when it was not forwarded by a group member).
func forwardedBy(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(forwardedKey{}).(string)
	return v, ok
}

// forwardsNow reports whether eth_sendRawTransaction goes on to another
// node now: always on a follower (Forward), on a group member while
// another member leads (Relay).
func (s *Server) forwardsNow() bool {
	return s.cfg.Forward != nil || (s.cfg.Relay != nil && !s.cfg.Relay.Leads())
}

// sendRelayed is eth_sendRawTransaction on a group member that does not
// lead: the local pool checks the transaction and keeps it (so this
// member includes it if it becomes leader, and its reads and pending
// nonce see it), then the relay hands it to the leader. A refusal about
// the transaction itself is answered here; a refusal about the local
// pool's state (already known, underpriced replacement, pool full) still
// goes to the leader, whose pool decides. With the transaction kept, a
// leader that cannot be reached now is not the sender's problem: the
// relay sends the pool to the next leader it can reach.
func (s *Server) sendRelayed(ctx context.Context, raw []byte, tx *types.Transaction) error {
	if s.pool == nil {
		return &rpcError{code: codeServer, msg: ErrNoPool.Error(), err: ErrNoPool}
	}
	perr := s.pool.Add([]*types.Transaction{tx})[0]
	if perr != nil && !forwardable(perr) {
		s.metrics.txRejected.Inc()
		s.log.Debug("transaction refused before relaying", "hash", tx.Hash(), "err", perr)
		return txError(perr)
	}
	kept := perr == nil || errors.Is(perr, txpool.ErrAlreadyKnown)
	if err := s.cfg.Relay.Relay(ctx, tx, raw, kept); err != nil {
		s.metrics.txRejected.Inc()
		return passThrough(err)
	}
	s.metrics.txAccepted.Inc()
	s.log.Debug("transaction relayed to the group's leader", "hash", tx.Hash(), "nonce", tx.Nonce(), "kept", kept)
	return nil
}
