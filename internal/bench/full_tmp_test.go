package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
)

func TestFullTmp(t *testing.T) {
	if os.Getenv("FULL") == "" {
		t.Skip()
	}
	runs, _ := strconv.Atoi(os.Getenv("RUNS"))
	_, err := RunBTCIndex(context.Background(), BTCIndexConfig{OursCommand: []string{os.Args[0]}, Runs: runs, Verify: os.Getenv("VERIFY") != ""}, os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
}
