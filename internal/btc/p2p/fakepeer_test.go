package p2p

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

// remoteOpts configure a fake remote Bitcoin peer; the zero value of each
// behaviour is an honest peer.
type remoteOpts struct {
	ip    string // listen address, default 127.0.0.1
	chain *testChain
	// ignoreBlocks never answers block requests (a stalling peer).
	ignoreBlocks bool
	// serveLimit disconnects, and refuses connections, after serving that
	// many blocks (0 = no limit).
	serveLimit int
	// corrupt serves the blocks at these heights with a transaction
	// missing, so their merkle root does not match.
	corrupt map[int32]bool
	// headers overrides the reply to getheaders.
	headers func(r *remote, msg *wire.MsgGetHeaders) *wire.MsgHeaders
	// onReady runs after the handshake.
	onReady func(r *remote, p *peer.Peer, conn net.Conn)
	// raw, if set, replaces the protocol: it gets the bare connection.
	raw func(conn net.Conn)
	// mempool seeds the remote's mempool.
	mempool []*wire.MsgTx
	// ignoreInv never requests announced transactions.
	ignoreInv bool
	// fetchAfter requests announced transactions only after this delay
	// (a node busy with other work, such as connecting a reorg's blocks).
	fetchAfter time.Duration
	// ignoreTxGetData never answers a request for a transaction, not
	// even with notfound (a peer that stopped reading).
	ignoreTxGetData bool
	// txGetDataDelay answers requests for transactions only after this
	// delay (a busy peer).
	txGetDataDelay time.Duration
	// txPolicy decides on a relayed tx: reject (with code and reason) or
	// accept; keep=false drops an accepted tx without a reject.
	txPolicy func(tx *wire.MsgTx) (reject bool, code wire.RejectCode, reason string, keep bool)
}

// has reports whether the remote's mempool holds txid.
func (r *remote) has(txid chainhash.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mempool[txid] != nil
}

// remote is a fake Bitcoin peer built on btcd's peer package.
type remote struct {
	opts remoteOpts
	ln   net.Listener
	addr string

	mu      sync.Mutex
	served  int
	dead    bool
	mempool map[chainhash.Hash]*wire.MsgTx
	peers   []*peer.Peer
	wg      sync.WaitGroup
}

func startRemote(t testing.TB, opts remoteOpts) *remote {
	t.Helper()
	if opts.ip == "" {
		opts.ip = "127.0.0.1"
	}
	r := startRemoteAt(t, net.JoinHostPort(opts.ip, "0"), opts)
	if r == nil {
		t.Fatal("listen failed")
	}
	return r
}

// startRemoteAt listens on addr; it returns nil if that fails.
func startRemoteAt(t testing.TB, addr string, opts remoteOpts) *remote {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil
	}
	r := &remote{opts: opts, ln: ln, addr: ln.Addr().String(), mempool: make(map[chainhash.Hash]*wire.MsgTx)}
	for _, tx := range opts.mempool {
		r.mempool[tx.TxHash()] = tx
	}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.stop)
	return r
}

func (r *remote) stop() {
	_ = r.ln.Close()
	r.mu.Lock()
	r.dead = true
	peers := r.peers
	r.mu.Unlock()
	for _, p := range peers {
		p.Disconnect()
		p.WaitForDisconnect()
	}
	r.wg.Wait()
}

// ch returns the chain the remote serves; tests may swap it.
func (r *remote) ch() *testChain {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opts.chain
}

func (r *remote) servedBlocks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.served
}

func (r *remote) accept() {
	defer r.wg.Done()
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		dead := r.dead
		r.mu.Unlock()
		if dead {
			_ = conn.Close()
			continue
		}
		if r.opts.raw != nil {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.opts.raw(conn)
				_ = conn.Close()
			}()
			continue
		}
		r.servePeer(conn)
	}
}

func (r *remote) servePeer(conn net.Conn) {
	var p *peer.Peer
	cfg := &peer.Config{
		NewestBlock: func() (*chainhash.Hash, int32, error) {
			h, height := r.ch().tip()
			return &h, height, nil
		},
		UserAgentName:       "fakeremote",
		UserAgentVersion:    "1.0.0",
		ChainParams:         r.ch().params,
		Services:            wire.SFNodeNetwork | wire.SFNodeWitness,
		AllowSelfConns:      true,
		DisableStallHandler: true,
		Listeners: peer.MessageListeners{
			OnVerAck: func(pp *peer.Peer, _ *wire.MsgVerAck) {
				if r.opts.onReady != nil {
					go r.opts.onReady(r, pp, conn)
				}
			},
			OnGetHeaders: func(pp *peer.Peer, msg *wire.MsgGetHeaders) {
				if r.opts.headers != nil {
					if reply := r.opts.headers(r, msg); reply != nil {
						pp.QueueMessage(reply, nil)
					}
					return
				}
				pp.QueueMessage(r.headersAfter(msg.BlockLocatorHashes, wire.MaxBlockHeadersPerMsg), nil)
			},
			OnGetData: func(pp *peer.Peer, msg *wire.MsgGetData) {
				if d := r.opts.txGetDataDelay; d > 0 && len(msg.InvList) > 0 && msg.InvList[0].Type != wire.InvTypeWitnessBlock && msg.InvList[0].Type != wire.InvTypeBlock {
					time.AfterFunc(d, func() { r.onGetData(pp, msg) })
					return
				}
				r.onGetData(pp, msg)
			},
			OnInv: func(pp *peer.Peer, msg *wire.MsgInv) {
				if r.opts.ignoreInv {
					return
				}
				gd := wire.NewMsgGetData()
				for _, iv := range msg.InvList {
					if iv.Type == wire.InvTypeTx {
						_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessTx, &iv.Hash))
					}
				}
				if len(gd.InvList) == 0 {
					return
				}
				if d := r.opts.fetchAfter; d > 0 {
					time.AfterFunc(d, func() { pp.QueueMessage(gd, nil) })
					return
				}
				pp.QueueMessage(gd, nil)
			},
			OnTx: func(pp *peer.Peer, tx *wire.MsgTx) {
				txid := tx.TxHash()
				reject, code, reason, keep := false, wire.RejectCode(0), "", true
				if r.opts.txPolicy != nil {
					reject, code, reason, keep = r.opts.txPolicy(tx)
				}
				if reject {
					pp.PushRejectMsg(wire.CmdTx, code, reason, &txid, false)
					return
				}
				if keep {
					r.mu.Lock()
					r.mempool[txid] = tx
					r.mu.Unlock()
				}
			},
		},
	}
	p = peer.NewInboundPeer(cfg)
	r.mu.Lock()
	r.peers = append(r.peers, p)
	r.mu.Unlock()
	p.AssociateConnection(conn)
}

// headersAfter returns up to max headers following the first locator hash
// the chain knows.
func (r *remote) headersAfter(loc []*chainhash.Hash, max int) *wire.MsgHeaders {
	chain := r.ch()
	start := 1
	for _, h := range loc {
		if i, ok := chain.index[*h]; ok {
			start = i + 1
			break
		}
	}
	msg := wire.NewMsgHeaders()
	for i := start; i < len(chain.blocks) && len(msg.Headers) < max; i++ {
		hdr := chain.blocks[i].Header
		_ = msg.AddBlockHeader(&hdr)
	}
	return msg
}

func (r *remote) onGetData(p *peer.Peer, msg *wire.MsgGetData) {
	chain := r.ch()
	notFound := wire.NewMsgNotFound()
	for _, iv := range msg.InvList {
		switch iv.Type {
		case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
			if r.opts.ignoreBlocks {
				continue
			}
			i, ok := chain.index[iv.Hash]
			if !ok {
				_ = notFound.AddInvVect(iv)
				continue
			}
			r.mu.Lock()
			if r.opts.serveLimit > 0 && r.served >= r.opts.serveLimit {
				r.dead = true
				r.mu.Unlock()
				p.Disconnect()
				return
			}
			r.served++
			r.mu.Unlock()
			b := chain.blocks[i]
			if r.opts.corrupt[int32(i)] && len(b.Transactions) > 1 {
				bad := *b
				bad.Transactions = b.Transactions[:len(b.Transactions)-1]
				b = &bad
			}
			done := make(chan struct{}, 1)
			p.QueueMessageWithEncoding(b, done, wire.WitnessEncoding)
			select {
			case <-done:
			case <-p.Done():
				return
			}
		case wire.InvTypeTx, wire.InvTypeWitnessTx:
			if r.opts.ignoreTxGetData {
				continue
			}
			r.mu.Lock()
			tx := r.mempool[iv.Hash]
			r.mu.Unlock()
			if tx == nil {
				_ = notFound.AddInvVect(iv)
				continue
			}
			p.QueueMessageWithEncoding(tx, nil, wire.WitnessEncoding)
		default:
			_ = notFound.AddInvVect(iv)
		}
	}
	if len(notFound.InvList) > 0 {
		p.QueueMessage(notFound, nil)
	}
}
