package btcdtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTwoNodesAgree(t *testing.T) {
	t.Parallel()
	a := Start(t, Options{})
	b := Start(t, Options{TxIndex: true})

	a.Generate(10)
	b.Generate(3) // a shorter competing chain that must be reorged away
	hs := a.Generate(2)
	want := *hs[len(hs)-1]

	b.Connect(a.P2PAddr())
	b.WaitForTip(want)
	if got, h := b.Tip(); got != want || h != 12 {
		t.Fatalf("b tip = %s@%d, want %s@12", got, h, want)
	}

	b.Disconnect(a.P2PAddr())
	a.Generate(1)
	_, hb := b.Tip()
	if hb != 12 {
		t.Fatalf("b height after disconnect = %d, want 12", hb)
	}
}

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "btcd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     string
		want    string
		wantErr error
	}{
		{name: "env executable", env: exe, want: exe},
		{name: "env not executable", env: plain, wantErr: ErrNoBinary},
		{name: "env missing", env: filepath.Join(dir, "nope"), wantErr: ErrNoBinary},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HEMI_BTCD", tc.env)
			got, err := FindBinary()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStartProcessErrors(t *testing.T) {
	dir := t.TempDir()
	failing := filepath.Join(dir, "fail")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho boom >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr error
	}{
		{name: "binary exits at once", opts: Options{Binary: failing}, wantErr: ErrStart},
		{name: "binary missing", opts: Options{Binary: filepath.Join(dir, "missing")}, wantErr: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n, err := StartProcess(ctx, tc.opts)
			if err == nil {
				_ = n.Stop()
				t.Fatal("StartProcess succeeded, want error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDefaultMiningAddress(t *testing.T) {
	a := DefaultMiningAddress()
	if a.EncodeAddress()[:4] != "bcrt" {
		t.Fatalf("address %s is not regtest bech32", a.EncodeAddress())
	}
}
