package explorer

import (
	"context"
	"testing"
)

// Browser is the headless Chromium of the browser tests, for the tests
// of package explorer_test (which run the explorer inside a devnet).
func Browser(t *testing.T) context.Context { return browser(t) }
