package ha

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/hashicorp/raft"
)

// Member is one server of the group's raft configuration.
type Member struct {
	ID      common.Address `json:"id"`
	Address string         `json:"address"`
	Voter   bool           `json:"voter"`
	Leader  bool           `json:"leader"`
}

// membershipTimeout bounds a membership change (raft commits the new
// configuration like an entry).
const membershipTimeout = 10 * time.Second

// Members lists the group's raft configuration as this member knows it.
func (g *Group) Members() ([]Member, error) {
	r := g.raft.Load()
	if r == nil {
		return nil, errors.New("ha: not running")
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, fmt.Errorf("ha: members: %w", err)
	}
	_, leader := r.LeaderWithID()
	var out []Member
	for _, s := range cf.Configuration().Servers {
		out = append(out, Member{ID: common.HexToAddress(string(s.ID)), Address: string(s.Address),
			Voter: s.Suffrage == raft.Voter, Leader: s.ID == leader})
	}
	return out, nil
}

// leaderOnly returns the running raft if this member leads, else
// ErrNotLeader naming the leader.
func (g *Group) leaderOnly() (*raft.Raft, error) {
	r := g.raft.Load()
	if r == nil {
		return nil, errors.New("ha: not running")
	}
	if r.State() != raft.Leader {
		addr, id := r.LeaderWithID()
		if id == "" {
			return nil, fmt.Errorf("%w; no leader is known now: retry shortly", ErrNotLeader)
		}
		return nil, fmt.Errorf("%w; ask the leader %s (raft address %s)", ErrNotLeader, id, addr)
	}
	return r, nil
}

// AddMember adds a voting member (a genesis sequencer) at its raft
// address; call it on the leader. The new member starts with an empty
// raft directory and no ha.peers, and catches up from the log or a
// snapshot (its chain from L2 sync).
func (g *Group) AddMember(id common.Address, addr string) error {
	if !slices.Contains(g.cfg.Sequencers, id) {
		return fmt.Errorf("ha: %s is not a sequencer of the genesis (%v)", id, g.cfg.Sequencers)
	}
	if addr == "" {
		return errors.New("ha: the new member's raft address is empty")
	}
	r, err := g.leaderOnly()
	if err != nil {
		return err
	}
	if err := r.AddVoter(raft.ServerID(id.Hex()), raft.ServerAddress(addr), 0, membershipTimeout).Error(); err != nil {
		return fmt.Errorf("ha: add %s: %w", id, err)
	}
	g.log.Info("member added", "id", id, "address", addr)
	return nil
}

// RemoveMember removes a member; call it on the leader (removing the
// leader itself makes it step down after the change commits).
func (g *Group) RemoveMember(id common.Address) error {
	r, err := g.leaderOnly()
	if err != nil {
		return err
	}
	if err := r.RemoveServer(raft.ServerID(id.Hex()), 0, membershipTimeout).Error(); err != nil {
		return fmt.Errorf("ha: remove %s: %w", id, err)
	}
	g.log.Info("member removed", "id", id)
	return nil
}

// serveAdmin listens on Config.Admin (a port in use fails Run at once)
// and serves AdminHandler until the returned stop is called.
func (g *Group) serveAdmin() (stop func(), err error) {
	ln, err := net.Listen("tcp", g.cfg.Admin)
	if err != nil {
		return nil, fmt.Errorf("ha: admin endpoint: listen %s (ha.admin): %w", g.cfg.Admin, err)
	}
	srv := &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Warn("ha admin endpoint stopped", "err", err)
		}
	}()
	g.log.Info("ha admin endpoint listening", "url", "http://"+ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// AdminHandler is the admin endpoint:
//
//	GET    /ha/status          this member's Status
//	GET    /ha/members         the group's members
//	POST   /ha/members         {"id": "0x…", "address": "host:port"} adds a member (leader only)
//	DELETE /ha/members/{id}    removes a member (leader only)
//
// With Config.AdminToken every request needs "Authorization: Bearer
// <token>"; without, Config.Admin is loopback only (New refuses another
// address).
func (g *Group) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ha/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, g.Status(), nil) })
	mux.HandleFunc("GET /ha/members", func(w http.ResponseWriter, r *http.Request) {
		ms, err := g.Members()
		writeJSON(w, ms, err)
	})
	mux.HandleFunc("POST /ha/members", func(w http.ResponseWriter, r *http.Request) {
		var m Member
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&m); err != nil {
			http.Error(w, "body: want {\"id\": \"0x...\", \"address\": \"host:port\"}: "+err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"added": m.ID.Hex()}, g.AddMember(m.ID, m.Address))
	})
	mux.HandleFunc("DELETE /ha/members/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !common.IsHexAddress(id) {
			http.Error(w, "member id must be a sequencer address (0x + 40 hex digits)", http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"removed": common.HexToAddress(id).Hex()}, g.RemoveMember(common.HexToAddress(id)))
	})
	if g.cfg.AdminToken == "" {
		return mux
	}
	want := []byte("Bearer " + g.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "missing or wrong admin token (Authorization: Bearer <ha.admin_token_file's content>)", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNotLeader) {
			code = http.StatusConflict
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// AdminClient calls a member's admin endpoint (`hemi ha`).
type AdminClient struct {
	// URL is the endpoint's base, e.g. http://127.0.0.1:7360.
	URL string
	// Token is the admin token ("" when the endpoint is loopback-only).
	Token string
	HTTP  *http.Client
}

func (c *AdminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("ha admin: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: membershipTimeout + 5*time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("ha admin %s: %w (is the node running with ha.admin set?)", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("ha admin %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("ha admin %s: %s", c.URL, e.Error)
		}
		return fmt.Errorf("ha admin %s: %s: %s", c.URL, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ha admin %s: answer: %w", c.URL, err)
		}
	}
	return nil
}

// Status is the member's Status.
func (c *AdminClient) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/ha/status", nil, &st)
	return st, err
}

// Members lists the group's members.
func (c *AdminClient) Members(ctx context.Context) ([]Member, error) {
	var ms []Member
	err := c.do(ctx, http.MethodGet, "/ha/members", nil, &ms)
	return ms, err
}

// Add adds a member (call the leader's endpoint).
func (c *AdminClient) Add(ctx context.Context, id common.Address, addr string) error {
	return c.do(ctx, http.MethodPost, "/ha/members", Member{ID: id, Address: addr}, nil)
}

// Remove removes a member (call the leader's endpoint).
func (c *AdminClient) Remove(ctx context.Context, id common.Address) error {
	return c.do(ctx, http.MethodDelete, "/ha/members/"+id.Hex(), nil, nil)
}
