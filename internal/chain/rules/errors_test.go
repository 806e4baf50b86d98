package rules

import (
	"errors"
	"fmt"
	"testing"
)

// TestKindsWrapInvalidBlock: every header kind, wrapped with context as
// ValidateHeader returns it, still matches its kind and ErrInvalidBlock,
// and no kind matches another.
func TestKindsWrapInvalidBlock(t *testing.T) {
	kinds := []error{ErrUnknownParent, ErrBadNumber, ErrBadTimestamp, ErrFutureBlock, ErrBadGasLimit,
		ErrBadBaseFee, ErrBadHeader, ErrBadExtra, ErrBadSeal, ErrGasUsed, ErrBadView, Invalid("a kind of the caller's")}
	for i, k := range kinds {
		t.Run(k.Error(), func(t *testing.T) {
			err := fmt.Errorf("%w: context", k)
			if !errors.Is(err, k) || !errors.Is(err, ErrInvalidBlock) {
				t.Fatalf("%v does not match its kind and ErrInvalidBlock", err)
			}
			for j, other := range kinds {
				if j != i && errors.Is(err, other) {
					t.Fatalf("%v matches another kind %v", err, other)
				}
			}
		})
	}
}
