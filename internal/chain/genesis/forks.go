package genesis

import (
	"fmt"
	"slices"
	"strings"
)

// Feature names a consensus feature of the fork schedule (Config.Forks,
// the genesis file's "forks"): a rule that a later version of the chain may
// change, so that the change activates at an L2 block of a running network
// instead of needing a new chain (DESIGN 9).
type Feature string

// The consensus features that exist today, each active from block 0 on
// every network (KnownFeatures lists them with what they are).
const (
	// FeatureEthereumOsaka: the Ethereum rules of Config.ChainConfig,
	// every fork go-ethereum v1.17.10 runs on mainnet (Homestead through
	// Osaka, BPO1 and BPO2).
	FeatureEthereumOsaka Feature = "ethereum_osaka"
	// FeatureHVMv0: the hVM precompiles 0x40-0x46 with ABI v0 (DESIGN 5,
	// compatible with Hemi's Phase-0 hVM).
	FeatureHVMv0 Feature = "hvm_v0"
	// FeatureHVMUnspentSetGas: 0x40 and 0x41 answered from the index's
	// per-script unspent set and priced by its bounded reads (issue 8,
	// item 1; internal/hvm "Gas").
	FeatureHVMUnspentSetGas Feature = "hvm_unspent_set_gas"
	// FeatureHVMTxParts: the precompiles 0x47-0x49 (one input, one
	// output, one witness element of a transaction; issue 8, item 9).
	FeatureHVMTxParts Feature = "hvm_tx_parts"
)

// featureDocs says what each known feature is, in schedule order.
var featureDocs = []struct {
	f   Feature
	doc string
}{
	{FeatureEthereumOsaka, "Ethereum's rules through Osaka, BPO1 and BPO2 (go-ethereum v1.17.10's mainnet forks)"},
	{FeatureHVMv0, "hVM precompiles 0x40-0x46, ABI v0"},
	{FeatureHVMUnspentSetGas, "0x40/0x41 answered from the per-script unspent set, repriced"},
	{FeatureHVMTxParts, "hVM precompiles 0x47-0x49"},
}

// KnownFeatures lists the features this node implements, in schedule
// order.
func KnownFeatures() []Feature {
	out := make([]Feature, len(featureDocs))
	for i, d := range featureDocs {
		out[i] = d.f
	}
	return out
}

// FeatureDoc says what a known feature is ("" for an unknown one).
func FeatureDoc(f Feature) string {
	for _, d := range featureDocs {
		if d.f == f {
			return d.doc
		}
	}
	return ""
}

// Forks is the fork schedule: each feature's activation L2 block number.
type Forks map[Feature]uint64

// DefaultForks activates every known feature at block 0: the schedule of
// every network today.
func DefaultForks() Forks {
	f := make(Forks, len(featureDocs))
	for _, d := range featureDocs {
		f[d.f] = 0
	}
	return f
}

// Active reports whether feature is active in L2 block number: it is
// scheduled at or below number. An unscheduled feature is never active.
// Today every known feature is active from block 0 (Validate insists),
// and the chain runs them without asking; later consensus changes call
// Active so that they switch on at their scheduled block.
func (c *Config) Active(f Feature, number uint64) bool {
	at, ok := c.Forks[f]
	return ok && number >= at
}

// validate checks the schedule: every known feature is scheduled,
// at block 0 (this node runs each of them from genesis, so a later block
// would claim a schedule the chain does not follow), and nothing else.
func (fs Forks) validate() error {
	names := make([]string, 0, len(featureDocs))
	for _, d := range featureDocs {
		names = append(names, string(d.f))
	}
	unknown := make([]string, 0)
	for f := range fs {
		if !slices.Contains(names, string(f)) {
			unknown = append(unknown, string(f))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fieldErr(ErrConfig, "forks."+unknown[0], "unknown feature: this node knows %s; remove it, or run a hemi release that implements it",
			strings.Join(names, ", "))
	}
	for _, d := range featureDocs {
		at, ok := fs[d.f]
		switch {
		case !ok:
			return fieldErr(ErrConfig, "forks."+string(d.f), "missing (%s): add it with activation block 0", d.doc)
		case at != 0:
			return fieldErr(ErrConfig, "forks."+string(d.f), "activation block %d: this node runs %s from genesis only; set it to 0", at, d.doc)
		}
	}
	return nil
}

// FieldError is a configuration or genesis file field that does not
// validate: Field is its path in the genesis file ("pop.superfinal_depth",
// "sequencers[1].address"), Msg what is wrong and what to do. It wraps
// ErrConfig or ErrFile.
type FieldError struct {
	Field string
	Msg   string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns the sentinel, so errors.Is(err, ErrConfig) holds.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(sentinel error, field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
