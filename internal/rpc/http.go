package rpc

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// httpStack wraps the JSON-RPC handler in the vhost and CORS checks
// go-ethereum's node package applies (its own import would need modules
// this repository does not carry).
func httpStack(next http.Handler, cors, vhosts []string) http.Handler {
	return vhostHandler(vhosts, corsHandler(cors, next))
}

// vhostHandler refuses requests whose Host header is not an allowed
// virtual host (DNS rebinding protection). IP addresses and an empty Host
// are always allowed, as go-ethereum does.
func vhostHandler(vhosts []string, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, h := range vhosts {
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" || allowed["*"] {
			next.ServeHTTP(w, r)
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if net.ParseIP(strings.Trim(host, "[]")) != nil || allowed[strings.ToLower(host)] {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "invalid host specified", http.StatusForbidden)
	})
}

// corsHandler answers preflight requests and sets the CORS headers for
// allowed origins ("*" for any). No origins: no CORS headers at all.
func corsHandler(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	any := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (any || slices.ContainsFunc(origins, func(o string) bool { return strings.EqualFold(o, origin) })) {
			h := w.Header()
			h.Add("Vary", "Origin")
			if any {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
				if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
					h.Set("Access-Control-Allow-Headers", req)
				}
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
