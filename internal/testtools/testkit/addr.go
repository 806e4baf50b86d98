package testkit

import (
	"fmt"
	"net"
	"testing"
)

// PickAddr returns a loopback address ("127.0.0.1:port") whose port was
// free a moment ago: it listens on port 0 and closes the listener. For
// code outside a test (btcdtest, the bench); tests use FreeAddr.
func PickAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("testkit: free loopback port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("testkit: free loopback port: %w", err)
	}
	return addr, nil
}

// FreeAddr is PickAddr failing t.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := PickAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
