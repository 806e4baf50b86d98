package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/tbc"
)

// ChildEnv is set (to "1") in the environment of the child process that
// runs our node, so a test binary's TestMain can recognise it.
const ChildEnv = "HEMI_BENCH_OURS_CHILD"

// childEvent is one JSON line the child prints on stdout.
type childEvent struct {
	Event     string `json:"event"` // "synced", "verified"
	Height    int32  `json:"height,omitempty"`
	Tip       string `json:"tip,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms,omitempty"`
	VmHWMKB   int64  `json:"vmhwm_kb,omitempty"`
	Txs       uint64 `json:"txs,omitempty"`
}

// OursChildMain is the body of the hidden `hemi bench btc-index-ours`
// command: it syncs our node (internal/tbc) from -peer into an empty
// -datadir until its indexed tip is -height, prints a "synced" JSON line
// with the tip and its own peak RSS, optionally checks every transaction of
// the -verify chain file against the index and prints a "verified" line,
// then shuts the node down. Logs go to stderr.
func OursChildMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("btc-index-ours", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("datadir", "", "empty data directory for the node")
	peer := fs.String("peer", "", "host:port of the benchmark peer")
	height := fs.Int("height", 0, "height to sync to")
	verify := fs.String("verify", "", "chain file whose every transaction must be in the index")
	logLevel := fs.String("loglevel", "warn", "log level: debug, info, warn, error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the sync to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile at the synced tip to this file")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bench child: %w (flags: -datadir -peer -height [-verify] [-loglevel])", err)
	}
	if *dataDir == "" || *peer == "" || *height <= 0 {
		return errors.New("bench child: -datadir, -peer and -height are required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bench child: -loglevel: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now()
	stopProfile := func() error { return nil }
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench child: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench child: %w", err)
		}
		stopped := false
		stopProfile = func() error {
			if !stopped {
				stopped = true
				pprof.StopCPUProfile()
			}
			return nil
		}
		defer stopProfile()
	}
	params := &chaincfg.RegressionNetParams
	svc, err := tbc.New(tbc.Config{
		Params:   params,
		DataDir:  *dataDir,
		Peers:    []string{*peer},
		Progress: 5 * time.Second,
		Logger:   logger,
	})
	if err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(ctx) }()

	enc := json.NewEncoder(stdout)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	var tip chainhash.Hash
	for {
		var h int32
		tip, h = svc.BlockTip()
		if h >= int32(*height) {
			break
		}
		select {
		case err := <-runErr:
			return fmt.Errorf("bench child: node stopped at height %d: %v", h, err)
		case <-ctx.Done():
			<-runErr
			return ctx.Err()
		case <-t.C:
		}
	}
	_ = stopProfile()
	hwm, _ := vmHWM("self")
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}
	if err := enc.Encode(childEvent{Event: "synced", Height: int32(*height), Tip: tip.String(), ElapsedMS: time.Since(start).Milliseconds(), VmHWMKB: hwm}); err != nil {
		return fmt.Errorf("bench child: write result: %w", err)
	}
	var verr error
	if *verify != "" {
		var n uint64
		n, verr = verifyIndex(svc, *verify, params, tip)
		if verr == nil {
			verr = enc.Encode(childEvent{Event: "verified", Txs: n})
		}
	}
	cancel()
	if err := <-runErr; err != nil && verr == nil {
		verr = fmt.Errorf("bench child: node: %w", err)
	}
	return verr
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return fmt.Errorf("bench child: heap profile: %w", err)
	}
	return nil
}

// verifyIndex checks that the index holds every transaction of the chain
// file at its height and position, as of tip, and returns how many.
func verifyIndex(svc *tbc.Service, path string, params *chaincfg.Params, tip chainhash.Hash) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("bench child: %w", err)
	}
	c, err := DecodeChainFile(data, params.Net, *params.GenesisHash)
	if err != nil {
		return 0, err
	}
	ix := svc.Index()
	var n uint64
	for h := int32(1); h <= c.Blocks(); h++ {
		raw, _ := c.Raw(h)
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
			return n, fmt.Errorf("bench child: block %d: %w", h, err)
		}
		bh := b.Header.BlockHash()
		for i, tx := range b.Transactions {
			id := tx.TxHash()
			info, err := ix.TxByID(id, tip)
			if err != nil {
				return n, fmt.Errorf("bench child: tx %v of block %d: %w", id, h, err)
			}
			if info.Height != h || info.Index != uint32(i) || info.BlockHash != bh {
				return n, fmt.Errorf("bench child: tx %v indexed at %d/%d in %v, want %d/%d in %v", id, info.Height, info.Index, info.BlockHash, h, i, bh)
			}
			n++
		}
	}
	return n, nil
}

// vmHWM returns the peak resident set size of a process ("self" or a pid)
// in KiB, from /proc/<pid>/status (Linux only).
func vmHWM(pid string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in status")
}

// oursRun is one measured sync of our node.
type oursRun struct {
	wall     time.Duration // process start to synced line
	self     time.Duration // as measured inside the child
	rssKB    int64
	tip      chainhash.Hash
	verified uint64
}

// runOurs starts the child, waits for it to sync (and verify) and stops it.
func runOurs(ctx context.Context, command []string, dir, peer string, height int32, verifyPath, profilePrefix string, log *slog.Logger) (oursRun, error) {
	var r oursRun
	if len(command) == 0 {
		return r, errors.New("bench: no command to run our node")
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	logPath := filepath.Join(dir, "ours.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	defer logFile.Close()
	args := append(command[1:len(command):len(command)], "-datadir", dataDir, "-peer", peer, "-height", strconv.Itoa(int(height)), "-loglevel", "info")
	if verifyPath != "" {
		args = append(args, "-verify", verifyPath)
	}
	if profilePrefix != "" {
		args = append(args, "-cpuprofile", profilePrefix+"cpu.pprof", "-memprofile", profilePrefix+"heap.pprof")
	}
	cmd := exec.Command(command[0], args...)
	cmd.Env = append(os.Environ(), ChildEnv+"=1")
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	log.Debug("starting our node", "cmd", command[0], "args", args)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("bench: start our node (%s): %w", command[0], err)
	}
	type line struct {
		ev  childEvent
		at  time.Time
		err error
	}
	lines := make(chan line, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev childEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				continue // not ours (e.g. a test binary's output)
			}
			lines <- line{ev: ev, at: time.Now()}
		}
	}()
	fail := func(err error) (oursRun, error) {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return r, fmt.Errorf("%w\n--- our node's log (%s), last lines:\n%s", err, logPath, tail(logPath, 30))
	}
	synced := false
	for {
		select {
		case <-ctx.Done():
			return fail(fmt.Errorf("bench: our node did not finish: %w", ctx.Err()))
		case l, ok := <-lines:
			if !ok {
				if err := cmd.Wait(); err != nil {
					return r, fmt.Errorf("bench: our node exited: %w\n--- log (%s), last lines:\n%s", err, logPath, tail(logPath, 30))
				}
				if !synced || (verifyPath != "" && r.verified == 0) {
					return r, fmt.Errorf("bench: our node exited before reporting\n--- log (%s):\n%s", logPath, tail(logPath, 30))
				}
				return r, nil
			}
			switch l.ev.Event {
			case "synced":
				synced = true
				r.wall = l.at.Sub(start)
				r.self = time.Duration(l.ev.ElapsedMS) * time.Millisecond
				r.rssKB = l.ev.VmHWMKB
				tip, err := chainhash.NewHashFromStr(l.ev.Tip)
				if err != nil {
					return fail(fmt.Errorf("bench: our node reported tip %q: %w", l.ev.Tip, err))
				}
				r.tip = *tip
			case "verified":
				r.verified = l.ev.Txs
			}
		}
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
