package signer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/tunnel"
)

// goodSets keeps, per committee key, the first posted set that verifies
// against the key of its signer index; anyone may post under any index,
// so a set that does not verify is dropped (and logged), never fatal.
func (s *Signer) goodSets(log *slog.Logger, tx *wire.MsgTx, prevouts []*wire.TxOut, posted []Posted) map[[32]byte][][]byte {
	good := map[[32]byte][][]byte{}
	for _, p := range posted {
		if int(p.Index) >= len(s.keys) {
			s.m.badSets.Inc()
			log.Warn("posted signatures dropped: no such signer index", "index", p.Index)
			continue
		}
		key := s.keys[p.Index]
		if _, ok := good[key]; ok {
			continue
		}
		if err := tunnel.VerifySignature(tx, prevouts, s.cfg.Vault, key, p.Sigs); err != nil {
			s.m.badSets.Inc()
			log.Warn("posted signatures dropped: they do not verify", "index", p.Index, "err", err)
			continue
		}
		good[key] = p.Sigs
	}
	return good
}

// assemble builds the signed payout from k good sets and broadcasts it
// unless it is mined already or was sent less than Rebroadcast ago. A
// payout this signer saw mined that is no longer in the best chain was
// reorged out: the Bitcoin node that mined it may have put it back in its
// mempool or not (a restarted btcd keeps none, and peers on the winning
// branch may never have seen it), so it is sent again at once rather than
// after the Rebroadcast period. Sending it again is harmless: it is the
// same transaction, and a node that has it says so.
func (s *Signer) assemble(ctx context.Context, log *slog.Logger, tx *wire.MsgTx, prevouts []*wire.TxOut, good map[[32]byte][][]byte, now time.Time) error {
	txid := tx.TxHash()
	mined, err := s.cfg.Node.Mined(ctx, txid)
	if err != nil {
		return fmt.Errorf("look up payout %s: %w", txid, err)
	}
	if mined {
		s.minedSeen[txid] = now
		return nil
	}
	_, reorged := s.minedSeen[txid]
	if last, ok := s.lastBroadcast[txid]; ok && !reorged && now.Sub(last) < s.cfg.Rebroadcast {
		return nil
	}
	signed, dropped, err := tunnel.Assemble(tx, prevouts, s.cfg.Vault, good)
	if err != nil {
		return fmt.Errorf("assemble payout %s: %w", txid, err)
	}
	for _, d := range dropped {
		log.Warn("signature set not used", "key", fmt.Sprintf("%x", d.Key), "err", d.Reason)
	}
	if _, ok := s.lastBroadcast[txid]; !ok {
		s.m.assembled.Inc()
	}
	if reorged {
		log.Warn("payout reorged out of the best chain; broadcasting it again", "txid", txid)
	}
	if err := s.cfg.Node.Broadcast(ctx, signed); err != nil {
		return fmt.Errorf("broadcast payout %s: %w", txid, err)
	}
	if reorged {
		delete(s.minedSeen, txid)
		s.m.reorged.Inc()
	}
	s.lastBroadcast[txid] = now
	for id, at := range s.lastBroadcast { // forget payouts of past attempts
		if now.Sub(at) > 20*s.cfg.Rebroadcast {
			delete(s.lastBroadcast, id)
		}
	}
	for id, at := range s.minedSeen {
		if now.Sub(at) > 20*s.cfg.Rebroadcast {
			delete(s.minedSeen, id)
		}
	}
	s.m.broadcasts.Inc()
	log.Info("payout broadcast", "txid", txid, "signers", len(good))
	return nil
}
