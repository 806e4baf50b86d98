package rpc

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// takeSubscription takes one of the subscription slots of the
// connection of ctx (Config.SubscriptionsPerConn); release gives it back
// when the subscription ends.
func (s *Server) takeSubscription(ctx context.Context) (release func(), err error) {
	client := clientOf(ctx)
	if !s.subs.take(client) {
		s.metrics.limitRefusals.Inc()
		return nil, limitErr(fmt.Errorf("%w: too many subscriptions on this connection: %d (rpc.subscriptions_per_conn); unsubscribe unused ones",
			ErrTooMany, s.cfg.SubscriptionsPerConn))
	}
	return func() { s.subs.give(client) }, nil
}

// NewHeads is eth_subscribe("newHeads"): every new canonical header, in
// order, from the block after the head at subscription time.
func (api *ethAPI) NewHeads(ctx context.Context) (*gethrpc.Subscription, error) {
	return api.s.subscribeHeads(ctx, func(h *types.Header) (any, error) { return marshalHeader(h), nil })
}

// subscribeHeads streams the canonical headers after the current head to
// a new subscription, each turned into a notification by notify (nil:
// nothing to send for this header; an error ends the subscription).
func (s *Server) subscribeHeads(ctx context.Context, notify func(h *types.Header) (any, error)) (*gethrpc.Subscription, error) {
	notifier, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	release, err := s.takeSubscription(ctx)
	if err != nil {
		return nil, err
	}
	sub := notifier.CreateSubscription()
	from := s.chain.Head().Number.Uint64() + 1
	s.metrics.subscriptions.Inc()
	go func() {
		defer release()
		defer s.metrics.subscriptions.Dec()
		// The subscription's life is the connection's: ctx of the
		// request is done as soon as it returns.
		subCtx, cancel := context.WithCancel(context.Background())
		defer cancel()
		heads := s.chain.Subscribe(subCtx, from)
		for {
			select {
			case h, ok := <-heads:
				if !ok {
					return
				}
				msg, err := notify(h)
				if err != nil {
					return
				}
				if msg == nil {
					continue
				}
				if err := notifier.Notify(sub.ID, msg); err != nil {
					return
				}
			case <-sub.Err():
				return
			}
		}
	}()
	return sub, nil
}

// Logs is eth_subscribe("logs", filter): the matching logs of every new
// canonical block (the filter's block range is ignored, as in
// go-ethereum; blockHash is refused). After an L2 reorg, the logs of the
// blocks that left the canonical chain come again with removed: true
// (oldest first), then those of the new branch.
func (api *ethAPI) Logs(ctx context.Context, crit filterCriteria) (*gethrpc.Subscription, error) {
	notifier, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	if crit.BlockHash != nil {
		return nil, invalidParams("blockHash is not allowed in a logs subscription")
	}
	s := api.s
	release, err := s.takeSubscription(ctx)
	if err != nil {
		return nil, err
	}
	sub := notifier.CreateSubscription()
	last := s.chain.Head()
	from := last.Number.Uint64() + 1
	api.s.metrics.subscriptions.Inc()
	go func() {
		defer release()
		defer api.s.metrics.subscriptions.Dec()
		subCtx, cancel := context.WithCancel(context.Background())
		defer cancel()
		heads := s.chain.Subscribe(subCtx, from)
		for {
			select {
			case h, ok := <-heads:
				if !ok {
					return
				}
				var logs []*types.Log
				if h.ParentHash != last.Hash() {
					removed, err := s.removedLogs(last, &crit)
					if err != nil {
						s.log.Warn("logs subscription stopped", "block", last.Number, "err", err)
						return
					}
					logs = removed
				}
				last = h
				logs, err := s.blockLogs(h, &crit, logs)
				if err != nil {
					s.log.Warn("logs subscription stopped", "block", h.Number, "err", err)
					return
				}
				for _, l := range logs {
					if err := notifier.Notify(sub.ID, l); err != nil {
						return
					}
				}
			case <-sub.Err():
				return
			}
		}
	}()
	return sub, nil
}

// removedLogs are the matching logs of old and its ancestors that are no
// longer canonical (a reorg removed them), oldest block first, each a
// copy marked Removed.
func (s *Server) removedLogs(old *types.Header, crit *filterCriteria) ([]*types.Log, error) {
	var gone []*types.Header
	for h := old; ; {
		if c, err := s.chain.HeaderByNumber(h.Number.Uint64()); err == nil && c.Hash() == h.Hash() {
			break
		}
		gone = append(gone, h)
		if h.Number.Sign() == 0 {
			break
		}
		p, err := s.chain.HeaderByHash(h.ParentHash)
		if err != nil {
			return nil, err
		}
		h = p
	}
	out := []*types.Log{}
	for i := len(gone) - 1; i >= 0; i-- {
		logs, err := s.blockLogs(gone[i], crit, nil)
		if err != nil {
			return nil, err
		}
		for _, l := range logs {
			cp := *l
			cp.Removed = true
			out = append(out, &cp)
		}
	}
	return out, nil
}

// NewPendingTransactions is eth_subscribe("newPendingTransactions"[,
// fullTx]): hashes (or transactions) the pool accepts.
func (api *ethAPI) NewPendingTransactions(ctx context.Context, fullTx *bool) (*gethrpc.Subscription, error) {
	notifier, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	s := api.s
	sub := notifier.CreateSubscription()
	if s.pool == nil {
		return sub, nil // a node without a pool never has pending transactions
	}
	release, err := s.takeSubscription(ctx)
	if err != nil {
		return nil, err
	}
	txs := make(chan core.NewTxsEvent, 128)
	poolSub := s.pool.SubscribeTransactions(txs)
	full := fullTx != nil && *fullTx
	api.s.metrics.subscriptions.Inc()
	go func() {
		defer release()
		defer api.s.metrics.subscriptions.Dec()
		defer poolSub.Unsubscribe()
		for {
			select {
			case ev := <-txs:
				for _, tx := range ev.Txs {
					var v any = tx.Hash()
					if full {
						v = newRPCTransaction(tx, nil, s.config)
					}
					if err := notifier.Notify(sub.ID, v); err != nil {
						return
					}
				}
			case <-poolSub.Err():
				return
			case <-sub.Err():
				return
			}
		}
	}()
	return sub, nil
}
