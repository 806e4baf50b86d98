package hvm

import (
	"github.com/ethereum/go-ethereum/params"
)

// ReadGas is the price of one random index read: EIP-2929's cold SLOAD,
// which is what Ethereum charges for one random read of its flat state
// (a pebble point read, like ours). See the package documentation for
// how each precompile's price is derived from it.
const ReadGas = params.ColdSloadCostEIP2929 // 2,100

// Gas per call of each precompile (RequiredGas). It depends on the input
// only, never on the view, so every node charges the same before running.
const (
	// GasBalance (0x40): the index's stored balance (one point read)
	// and the seek of the script's change records above the view's fork
	// point (see the package documentation for the exact bound).
	GasBalance uint64 = 2 * ReadGas

	// GasUTXOsBase and GasUTXOsPerItem (0x41): the seeks of the script's
	// unspent set and of its change records, plus one read per unspent
	// output the page walks past or returns: (page+1) * pageSize.
	GasUTXOsBase    uint64 = 2 * ReadGas
	GasUTXOsPerItem uint64 = ReadGas

	// GasTxBase (0x42): locate the tx (one seek) and read it from its
	// block (one read). GasTxPerInput: the same two reads for each input
	// whose value is returned (up to the max-inputs flag). GasTxPerSpent:
	// one spend-table seek per output whose spent flag is returned (up to
	// the max-outputs flag).
	GasTxBase       uint64 = 2 * ReadGas
	GasTxPerInput   uint64 = 2 * ReadGas
	GasTxPerSpent   uint64 = ReadGas
	GasConfirmTx    uint64 = 2 * ReadGas // 0x43: locate and read the tx
	GasLastHeader   uint64 = 1_000       // 0x44: the view's header, in memory
	GasHeader       uint64 = 1_500       // 0x45: in-memory header tree lookup
	GasAddrToScript uint64 = 600         // 0x46: decode an address, no read
)

// gasUTXOs is 0x41's RequiredGas.
func gasUTXOs(input []byte) uint64 {
	q, ok := parseUTXOQuery(input)
	if !ok {
		return GasUTXOsBase
	}
	// At most (2^24) * 255 * 2,100 < 2^44: no overflow.
	return GasUTXOsBase + uint64(q.page+1)*uint64(q.pageSize)*GasUTXOsPerItem
}

// gasTx is 0x42's RequiredGas: the limits come from the flags, so the
// price is the worst case the flags allow.
func gasTx(input []byte) uint64 {
	q, ok := parseTxQuery(input)
	if !ok {
		return GasTxBase
	}
	f := decodeTxFlags(q.flags)
	g := GasTxBase
	if f.inputs {
		g += uint64(f.maxInputs) * GasTxPerInput
	}
	if f.outputs && f.spent {
		g += uint64(f.maxOutputs) * GasTxPerSpent
	}
	return g
}

// Gas of 0x47-0x49 (Hemi's current network's input, output and witness
// element reads): the worst-case index reads the call makes, times
// ReadGas, plus GasAnswerWord per 32-byte word of the longest variable
// field the input lets the answer carry (its max size, up to 65,535
// bytes). Invalid input is charged the reads alone.
const (
	// GasInputByTxid (0x47): locate and read the tx (2 reads), then
	// locate and read the tx whose output the input spends, for its value
	// (2 reads).
	GasInputByTxid uint64 = 4 * ReadGas

	// GasOutputByTxid (0x48): locate and read the tx (2 reads), then one
	// spend-table seek for the spent flag.
	GasOutputByTxid uint64 = 3 * ReadGas

	// GasInputWitness (0x49): locate and read the tx (2 reads).
	GasInputWitness uint64 = 2 * ReadGas

	// GasAnswerWord is go-ethereum's identity precompile price per 32-byte
	// word copied (3): a 64 KiB answer must not cost less per byte than
	// copying it through 0x04.
	GasAnswerWord uint64 = params.IdentityPerWordGas
)

// answerGas is GasAnswerWord per 32-byte word of max bytes.
func answerGas(max int) uint64 { return uint64(max+31) / 32 * GasAnswerWord }

// gasInput is 0x47's RequiredGas: its reads, and the scriptSig max.
func gasInput(input []byte) uint64 {
	q, ok := parsePartQuery(input)
	if !ok {
		return GasInputByTxid
	}
	return GasInputByTxid + answerGas(q.max)
}

// gasOutput is 0x48's RequiredGas: its reads, and the script max.
func gasOutput(input []byte) uint64 {
	q, ok := parsePartQuery(input)
	if !ok {
		return GasOutputByTxid
	}
	return GasOutputByTxid + answerGas(q.max)
}

// gasWitness is 0x49's RequiredGas: its reads, and the element max.
func gasWitness(input []byte) uint64 {
	q, ok := parseWitnessQuery(input)
	if !ok {
		return GasInputWitness
	}
	return GasInputWitness + answerGas(q.max)
}
