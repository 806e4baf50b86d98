package clock

import (
	"testing"
	"time"
)

func TestFixed(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	c := Fixed{T: at}
	if !c.Now().Equal(at) {
		t.Fatalf("Now = %v, want %v", c.Now(), at)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		select {
		case got := <-c.After(d):
			if !got.Equal(at) {
				t.Fatalf("After(%v) sent %v, want %v", d, got, at)
			}
		default:
			t.Fatalf("After(%v) did not fire at once", d)
		}
	}
	select {
	case got := <-c.After(time.Nanosecond):
		t.Fatalf("After(1ns) on a stopped clock fired with %v", got)
	default:
	}
}

func TestSystemAfterZero(t *testing.T) {
	// time.After(0) fires without the test waiting on wall time.
	var s System
	<-s.After(0)
	if s.Now().IsZero() {
		t.Fatal("System.Now is zero")
	}
}
