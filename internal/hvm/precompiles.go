package hvm

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
)

// Addresses of the hVM precompiles (ABI v0).
var (
	AddrBalance       = common.BytesToAddress([]byte{0x40})
	AddrUTXOs         = common.BytesToAddress([]byte{0x41})
	AddrTx            = common.BytesToAddress([]byte{0x42})
	AddrConfirmations = common.BytesToAddress([]byte{0x43})
	AddrLastHeader    = common.BytesToAddress([]byte{0x44})
	AddrHeader        = common.BytesToAddress([]byte{0x45})
	AddrAddrToScript  = common.BytesToAddress([]byte{0x46})
	AddrInput         = common.BytesToAddress([]byte{0x47})
	AddrOutput        = common.BytesToAddress([]byte{0x48})
	AddrWitness       = common.BytesToAddress([]byte{0x49})
)

// Addresses returns the hVM precompile addresses, 0x40 to 0x49.
func Addresses() []common.Address {
	return []common.Address{AddrBalance, AddrUTXOs, AddrTx, AddrConfirmations, AddrLastHeader, AddrHeader, AddrAddrToScript,
		AddrInput, AddrOutput, AddrWitness}
}

// Precompiles returns the ten hVM contracts answering as of view, with
// addresses decoded for the Bitcoin network params. A nil view (no Bitcoin
// view yet) makes every view-backed contract answer empty; 0x46 needs only
// params. The contracts hold no state of their own and are safe for
// concurrent use if view is.
//
// evm.SetPrecompiles replaces the whole map: use Merge to keep Ethereum's
// own precompiles.
func Precompiles(view BitcoinView, params *chaincfg.Params) vm.PrecompiledContracts {
	return vm.PrecompiledContracts{
		AddrBalance:       &balance{view: view, params: params},
		AddrUTXOs:         &utxos{view: view, params: params},
		AddrTx:            &txByID{view: view},
		AddrConfirmations: &confirmations{view: view},
		AddrLastHeader:    &lastHeader{view: view},
		AddrHeader:        &headerAt{view: view},
		AddrAddrToScript:  &addrToScript{params: params},
		AddrInput:         &inputByTxid{view: view},
		AddrOutput:        &outputByTxid{view: view},
		AddrWitness:       &inputWitness{view: view},
	}
}

// Merge returns go-ethereum's precompiles active under rules plus hvm, for
// evm.SetPrecompiles. hvm wins on an address both hold (none today: the
// standard set ends at 0x11 and 0x100).
func Merge(rules params.Rules, hvm vm.PrecompiledContracts) vm.PrecompiledContracts {
	all := vm.ActivePrecompiledContracts(rules)
	maps.Copy(all, hvm)
	return all
}

// WarmAddresses returns the addresses StateDB.Prepare should warm under
// rules: Ethereum's active precompiles and the hVM ones (EIP-2929 warms
// precompiles; core.ApplyMessage only knows Ethereum's). See WarmingStateDB.
func WarmAddresses(rules params.Rules) []common.Address {
	return append(slices.Clone(vm.ActivePrecompiles(rules)), Addresses()...)
}

// WarmingStateDB wraps the vm.StateDB given to vm.NewEVM so that the
// hVM precompiles 0x40-0x49 are warm for the whole of every message, as
// Ethereum's are: without it the first call to each in a transaction
// pays EIP-2929's cold account access (2,600 gas) instead of the warm
// 100, on top of RequiredGas. Every node must make the same choice: it
// changes gas used, hence receipts and state roots.
//
// The warm precompiles are those Prepare was last given (Ethereum's
// active set, which core.ApplyMessage passes at the start of every
// message) plus 0x40-0x49. They are answered for in AddressInAccessList
// and SlotInAccessList rather than put in the access list: go-ethereum's
// Prepare builds a new access-list map per message, and about 30
// addresses in it made the map grow three times, about a quarter of a
// node's CPU for a block of 100 transfers (TestWarmingSameGas: the gas
// is the same as with every address in the list).
type WarmingStateDB struct {
	vm.StateDB
	precompiles []common.Address // Ethereum's, as Prepare was last given them
}

// NewWarmingStateDB wraps db.
func NewWarmingStateDB(db vm.StateDB) *WarmingStateDB { return &WarmingStateDB{StateDB: db} }

// Prepare is the wrapped Prepare with the precompiles kept aside (see
// WarmingStateDB).
func (s *WarmingStateDB) Prepare(rules params.Rules, sender, coinbase common.Address, dst *common.Address, precompiles []common.Address, list types.AccessList) {
	s.precompiles = precompiles
	s.StateDB.Prepare(rules, sender, coinbase, dst, nil, list)
}

// AddressInAccessList reports a precompile as warm, any other address as
// the access list has it.
func (s *WarmingStateDB) AddressInAccessList(addr common.Address) bool {
	return s.warm(addr) || s.StateDB.AddressInAccessList(addr)
}

// SlotInAccessList is the wrapped one, with a precompile's address warm.
func (s *WarmingStateDB) SlotInAccessList(addr common.Address, slot common.Hash) (addressOk bool, slotOk bool) {
	addressOk, slotOk = s.StateDB.SlotInAccessList(addr, slot)
	return addressOk || s.warm(addr), slotOk
}

// warm reports whether addr is one of the precompiles Prepare warms.
func (s *WarmingStateDB) warm(addr common.Address) bool {
	// Every precompile address, Ethereum's (up to 0x100 so far) and
	// ours, is below 2^16: most addresses are rejected here.
	for _, b := range addr[:common.AddressLength-2] {
		if b != 0 {
			return false
		}
	}
	if addr[common.AddressLength-2] == 0 && addr[common.AddressLength-1] >= AddrBalance[common.AddressLength-1] &&
		addr[common.AddressLength-1] <= AddrWitness[common.AddressLength-1] {
		return true
	}
	return slices.Contains(s.precompiles, addr)
}

// balance is 0x40: address -> u64 satoshis unspent as of the view.
type balance struct {
	view   BitcoinView
	params *chaincfg.Params
}

func (c *balance) Name() string                    { return "BTC_BALANCE" }
func (c *balance) RequiredGas(input []byte) uint64 { return GasBalance }

func (c *balance) Run(input []byte) ([]byte, error) {
	script, ok := addressScript(input, c.params)
	if !ok || c.view == nil {
		return nil, nil
	}
	b, err := c.view.Balance(script)
	if err != nil || b < 0 {
		return nil, nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(b)), nil
}

// utxos is 0x41: address, page, page size -> count, then the UTXOs.
type utxos struct {
	view   BitcoinView
	params *chaincfg.Params
}

func (c *utxos) Name() string                    { return "BTC_UTXOS" }
func (c *utxos) RequiredGas(input []byte) uint64 { return gasUTXOs(input) }

func (c *utxos) Run(input []byte) ([]byte, error) {
	q, ok := parseUTXOQuery(input)
	if !ok || c.view == nil {
		return nil, nil
	}
	script, ok := addressScript(q.addr, c.params)
	if !ok {
		return nil, nil
	}
	us, err := c.view.UTXOs(script, q.page, q.pageSize)
	if err != nil || len(us) > q.pageSize {
		return nil, nil
	}
	return encodeUTXOs(us), nil
}

// txByID is 0x42: txid and flags -> the selected fields of the tx.
type txByID struct{ view BitcoinView }

func (c *txByID) Name() string                    { return "BTC_TX_BY_TXID" }
func (c *txByID) RequiredGas(input []byte) uint64 { return gasTx(input) }

func (c *txByID) Run(input []byte) ([]byte, error) {
	q, ok := parseTxQuery(input)
	if !ok || c.view == nil {
		return nil, nil
	}
	t, err := c.view.Tx(q.txid)
	if err != nil || t.Tx == nil {
		return nil, nil
	}
	out, err := encodeTx(c.view, t, decodeTxFlags(q.flags))
	if err != nil {
		return nil, nil
	}
	return out, nil
}

// confirmations is 0x43: txid -> u32 view height - tx height + 1.
type confirmations struct{ view BitcoinView }

func (c *confirmations) Name() string                    { return "BTC_TX_CONFIRMATIONS" }
func (c *confirmations) RequiredGas(input []byte) uint64 { return GasConfirmTx }

func (c *confirmations) Run(input []byte) ([]byte, error) {
	txid, ok := parseTxid(input)
	if !ok || c.view == nil {
		return nil, nil
	}
	t, err := c.view.Tx(txid)
	tip := c.view.Tip().Height
	if err != nil || t.Height < 0 || t.Height > tip {
		return nil, nil
	}
	return binary.BigEndian.AppendUint32(nil, uint32(tip-t.Height+1)), nil
}

// lastHeader is 0x44: the view's own header. Its input is ignored.
type lastHeader struct{ view BitcoinView }

func (c *lastHeader) Name() string                    { return "BTC_LAST_HEADER" }
func (c *lastHeader) RequiredGas(input []byte) uint64 { return GasLastHeader }

func (c *lastHeader) Run(input []byte) ([]byte, error) {
	if c.view == nil {
		return nil, nil
	}
	return encodeHeader(c.view.Tip()), nil
}

// headerAt is 0x45: u32 height -> the header at that height in the view.
type headerAt struct{ view BitcoinView }

func (c *headerAt) Name() string                    { return "BTC_HEADER_AT_HEIGHT" }
func (c *headerAt) RequiredGas(input []byte) uint64 { return GasHeader }

func (c *headerAt) Run(input []byte) ([]byte, error) {
	h, ok := parseHeight(input)
	if !ok || c.view == nil || h > c.view.Tip().Height {
		return nil, nil
	}
	hdr, err := c.view.HeaderByHeight(h)
	if err != nil || hdr.Height != h {
		return nil, nil
	}
	return encodeHeader(hdr), nil
}

// addrToScript is 0x46: address -> its output script.
type addrToScript struct{ params *chaincfg.Params }

func (c *addrToScript) Name() string                    { return "BTC_ADDR_TO_SCRIPT" }
func (c *addrToScript) RequiredGas(input []byte) uint64 { return GasAddrToScript }

func (c *addrToScript) Run(input []byte) ([]byte, error) {
	s, ok := addressScript(input, c.params)
	if !ok {
		return nil, nil
	}
	return s, nil
}
