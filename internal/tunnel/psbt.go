package tunnel

// PSBTs of vault spends (BIP-174 version 0 with the BIP-371 Taproot
// fields), so an external or hardware signer can sign a payout or a
// recovery spend: every input carries its witness UTXO (the taproot
// sighash commits to every input's amount and script), the leaf to sign
// (tap_leaf_script: control block -> script || leaf version), the
// internal key and the merkle root; the change output to the vault
// carries its internal key and tap tree so a wallet recognises it.
//
// The codec is written here rather than taken from btcutil/psbt: that
// module (v1.1.8, the newest) imports the pre-v2 btcd packages
// (github.com/btcsuite/btcd/wire, txscript, chaincfg), which the btcd
// v0.26 / */v2 modules this tree builds on no longer contain, and there is
// no btcutil/psbt/v2. It implements the fields the vault needs and keeps
// every other key-value pair as an opaque unknown (BIP-174 asks for that),
// so a PSBT that went through another tool round-trips.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// ErrPSBT is a PSBT that does not decode or breaks BIP-174/371.
var ErrPSBT = errors.New("tunnel: bad psbt")

// MaxPSBTSize bounds what ParsePSBT reads (a payout's PSBT is a few kB).
const MaxPSBTSize = 1 << 20

// psbtMagic opens every PSBT: "psbt" 0xff.
var psbtMagic = []byte{0x70, 0x73, 0x62, 0x74, 0xff}

// Key types used (BIP-174, BIP-371).
const (
	psbtGlobalUnsignedTx = 0x00
	psbtGlobalVersion    = 0xfb

	psbtInWitnessUTXO        = 0x01
	psbtInFinalScriptWitness = 0x08
	psbtInTapScriptSig       = 0x14
	psbtInTapLeafScript      = 0x15
	psbtInTapInternalKey     = 0x17
	psbtInTapMerkleRoot      = 0x18

	psbtOutTapInternalKey = 0x05
	psbtOutTapTree        = 0x06
)

// PSBT is a decoded partially signed transaction (version 0).
type PSBT struct {
	Tx      *wire.MsgTx // unsigned: empty scriptSigs and witnesses
	Inputs  []PSBTInput
	Outputs []PSBTOutput
	Unknown []PSBTPair // global pairs this codec does not interpret
}

// PSBTInput is one input's map.
type PSBTInput struct {
	WitnessUTXO        *wire.TxOut
	TapLeafScripts     []TapLeafScript
	TapScriptSigs      []TapScriptSig
	TapInternalKey     []byte // 32-byte x-only
	TapMerkleRoot      []byte // 32 bytes
	FinalScriptWitness []byte // serialized witness stack
	Unknown            []PSBTPair
}

// PSBTOutput is one output's map.
type PSBTOutput struct {
	TapInternalKey []byte // 32-byte x-only
	TapTree        []byte // BIP-371 encoding: {depth, leaf version, script}*
	Unknown        []PSBTPair
}

// TapLeafScript is PSBT_IN_TAP_LEAF_SCRIPT: a leaf and its proof.
type TapLeafScript struct {
	ControlBlock []byte
	Script       []byte
	LeafVersion  byte
}

// TapScriptSig is PSBT_IN_TAP_SCRIPT_SIG: key's signature for a leaf.
type TapScriptSig struct {
	XOnly    [32]byte
	LeafHash [32]byte
	Sig      []byte // 64 bytes, or 65 with a sighash type
}

// PSBTPair is a key-value pair kept as bytes (key includes its type).
type PSBTPair struct {
	Key, Value []byte
}

// NewVaultPSBT wraps an unsigned vault spend: every input spends a vault
// output (prevouts) through leafScript; outputs paying the vault get its
// internal key and tap tree.
func NewVaultPSBT(tx *wire.MsgTx, prevouts []*wire.TxOut, v VaultScripts, leafScript []byte) (*PSBT, error) {
	if len(prevouts) != len(tx.TxIn) {
		return nil, fmt.Errorf("%w: %d prevouts for %d inputs", ErrPrevouts, len(prevouts), len(tx.TxIn))
	}
	cb, err := v.ControlBlock(leafScript)
	if err != nil {
		return nil, fmt.Errorf("%w: control block: %v", ErrVault, err)
	}
	internal := XOnly(v.InternalKey())
	p := &PSBT{Tx: tx.Copy(), Inputs: make([]PSBTInput, len(tx.TxIn)), Outputs: make([]PSBTOutput, len(tx.TxOut))}
	for i := range p.Tx.TxIn {
		p.Tx.TxIn[i].SignatureScript = nil
		p.Tx.TxIn[i].Witness = nil
		if prevouts[i] == nil {
			return nil, fmt.Errorf("%w: prevout %d missing", ErrPrevouts, i)
		}
		p.Inputs[i] = PSBTInput{
			WitnessUTXO:    wire.NewTxOut(prevouts[i].Value, append([]byte(nil), prevouts[i].PkScript...)),
			TapLeafScripts: []TapLeafScript{{ControlBlock: cb, Script: append([]byte(nil), leafScript...), LeafVersion: byte(txscript.BaseLeafVersion)}},
			TapInternalKey: internal[:],
			TapMerkleRoot:  append([]byte(nil), v.MerkleRoot()...),
		}
	}
	tree := vaultTapTree(v)
	for i, o := range p.Tx.TxOut {
		if bytes.Equal(o.PkScript, v.PkScript()) {
			p.Outputs[i] = PSBTOutput{TapInternalKey: internal[:], TapTree: tree}
		}
	}
	return p, nil
}

// vaultTapTree is the BIP-371 tap tree of the vault's two depth-1 leaves,
// in the descriptor's order {committee, recovery}.
func vaultTapTree(v VaultScripts) []byte {
	var b bytes.Buffer
	for _, s := range [][]byte{v.CommitteeScript(), v.RecoveryScript()} {
		b.WriteByte(1)
		b.WriteByte(byte(txscript.BaseLeafVersion))
		_ = wire.WriteVarBytes(&b, 0, s)
	}
	return b.Bytes()
}

// PayoutPSBT is batch b's unsigned payout as a PSBT for the committee leaf.
func PayoutPSBT(b *Batch, v VaultScripts) (*PSBT, error) {
	tx, err := BuildPayout(b, v)
	if err != nil {
		return nil, err
	}
	return NewVaultPSBT(tx, PayoutPrevouts(b, v), v, v.CommitteeScript())
}

// AddLeafSignatures records key's signatures (one per input) for leaf
// script in the PSBT, as an external signer would.
func (p *PSBT) AddLeafSignatures(script []byte, key [32]byte, sigs [][]byte) error {
	if len(sigs) != len(p.Inputs) {
		return fmt.Errorf("%w: %d signatures for %d inputs", ErrSignature, len(sigs), len(p.Inputs))
	}
	lh := txscript.NewBaseTapLeaf(script).TapHash()
	for i := range p.Inputs {
		in := &p.Inputs[i]
		replaced := false
		for j := range in.TapScriptSigs {
			if in.TapScriptSigs[j].XOnly == key && in.TapScriptSigs[j].LeafHash == [32]byte(lh) {
				in.TapScriptSigs[j].Sig = append([]byte(nil), sigs[i]...)
				replaced = true
			}
		}
		if !replaced {
			in.TapScriptSigs = append(in.TapScriptSigs, TapScriptSig{XOnly: key, LeafHash: lh, Sig: append([]byte(nil), sigs[i]...)})
		}
	}
	return nil
}

// LeafSignatures collects, per key, the signatures for leaf script found
// on every input (keys missing on some input are left out): the input of
// Assemble when the signatures came back in PSBTs.
func (p *PSBT) LeafSignatures(script []byte) map[[32]byte][][]byte {
	lh := chainhash.Hash(txscript.NewBaseTapLeaf(script).TapHash())
	out := map[[32]byte][][]byte{}
	counts := map[[32]byte]int{}
	for i, in := range p.Inputs {
		for _, s := range in.TapScriptSigs {
			if s.LeafHash != [32]byte(lh) {
				continue
			}
			sigs := out[s.XOnly]
			if sigs == nil {
				sigs = make([][]byte, len(p.Inputs))
			}
			if sigs[i] == nil {
				counts[s.XOnly]++
			}
			sigs[i] = s.Sig
			out[s.XOnly] = sigs
		}
	}
	for k, n := range counts {
		if n != len(p.Inputs) {
			delete(out, k)
		}
	}
	return out
}

// Encode serializes the PSBT (fields in key-type order, so a PSBT encodes
// to the same bytes every time).
func (p *PSBT) Encode() ([]byte, error) {
	if p.Tx == nil || len(p.Inputs) != len(p.Tx.TxIn) || len(p.Outputs) != len(p.Tx.TxOut) {
		return nil, fmt.Errorf("%w: maps do not match the transaction", ErrPSBT)
	}
	var b bytes.Buffer
	b.Write(psbtMagic)
	var tx bytes.Buffer
	if err := p.Tx.SerializeNoWitness(&tx); err != nil {
		return nil, err
	}
	writePair(&b, []byte{psbtGlobalUnsignedTx}, tx.Bytes())
	writeUnknown(&b, p.Unknown)
	b.WriteByte(0)
	for _, in := range p.Inputs {
		if in.WitnessUTXO != nil {
			var v bytes.Buffer
			if err := wire.WriteTxOut(&v, 0, 0, in.WitnessUTXO); err != nil {
				return nil, err
			}
			writePair(&b, []byte{psbtInWitnessUTXO}, v.Bytes())
		}
		if in.FinalScriptWitness != nil {
			writePair(&b, []byte{psbtInFinalScriptWitness}, in.FinalScriptWitness)
		}
		sigs := append([]TapScriptSig(nil), in.TapScriptSigs...)
		sort.Slice(sigs, func(i, j int) bool {
			if c := bytes.Compare(sigs[i].XOnly[:], sigs[j].XOnly[:]); c != 0 {
				return c < 0
			}
			return bytes.Compare(sigs[i].LeafHash[:], sigs[j].LeafHash[:]) < 0
		})
		for _, s := range sigs {
			key := append(append([]byte{psbtInTapScriptSig}, s.XOnly[:]...), s.LeafHash[:]...)
			writePair(&b, key, s.Sig)
		}
		for _, l := range in.TapLeafScripts {
			writePair(&b, append([]byte{psbtInTapLeafScript}, l.ControlBlock...), append(append([]byte(nil), l.Script...), l.LeafVersion))
		}
		if in.TapInternalKey != nil {
			writePair(&b, []byte{psbtInTapInternalKey}, in.TapInternalKey)
		}
		if in.TapMerkleRoot != nil {
			writePair(&b, []byte{psbtInTapMerkleRoot}, in.TapMerkleRoot)
		}
		writeUnknown(&b, in.Unknown)
		b.WriteByte(0)
	}
	for _, o := range p.Outputs {
		if o.TapInternalKey != nil {
			writePair(&b, []byte{psbtOutTapInternalKey}, o.TapInternalKey)
		}
		if o.TapTree != nil {
			writePair(&b, []byte{psbtOutTapTree}, o.TapTree)
		}
		writeUnknown(&b, o.Unknown)
		b.WriteByte(0)
	}
	return b.Bytes(), nil
}

// Base64 is the PSBT's usual text form.
func (p *PSBT) Base64() (string, error) {
	b, err := p.Encode()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func writePair(b *bytes.Buffer, key, value []byte) {
	_ = wire.WriteVarBytes(b, 0, key)
	_ = wire.WriteVarBytes(b, 0, value)
}

func writeUnknown(b *bytes.Buffer, pairs []PSBTPair) {
	for _, p := range pairs {
		writePair(b, p.Key, p.Value)
	}
}

// ParsePSBTBase64 decodes a base64 PSBT.
func ParsePSBTBase64(s string) (*PSBT, error) {
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace([]byte(s))))
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %v", ErrPSBT, err)
	}
	return ParsePSBT(raw)
}

// psbtReader walks a PSBT's bytes without ever reading past the end.
type psbtReader struct {
	b   []byte
	off int
}

func (r *psbtReader) varint() (uint64, error) {
	rd := bytes.NewReader(r.b[r.off:])
	v, err := wire.ReadVarInt(rd, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: truncated at byte %d", ErrPSBT, r.off)
	}
	r.off += len(r.b[r.off:]) - rd.Len()
	return v, nil
}

func (r *psbtReader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("%w: length %d past the end at byte %d", ErrPSBT, n, r.off)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// readMap reads key-value pairs up to the 0x00 separator, refusing
// duplicate keys (BIP-174).
func (r *psbtReader) readMap(where string) ([]PSBTPair, error) {
	var pairs []PSBTPair
	seen := map[string]bool{}
	for {
		key, err := r.bytes()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(key) == 0 {
			return pairs, nil
		}
		if seen[string(key)] {
			return nil, fmt.Errorf("%w: %s: duplicate key %x", ErrPSBT, where, key)
		}
		seen[string(key)] = true
		val, err := r.bytes()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		pairs = append(pairs, PSBTPair{Key: key, Value: val})
	}
}

// ParsePSBT decodes a binary PSBT (version 0), checking the fields this
// package interprets; other pairs are kept as Unknown.
func ParsePSBT(raw []byte) (*PSBT, error) {
	if len(raw) > MaxPSBTSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrPSBT, len(raw), MaxPSBTSize)
	}
	if !bytes.HasPrefix(raw, psbtMagic) {
		return nil, fmt.Errorf("%w: no psbt magic", ErrPSBT)
	}
	r := &psbtReader{b: raw, off: len(psbtMagic)}
	global, err := r.readMap("global map")
	if err != nil {
		return nil, err
	}
	p := &PSBT{}
	for _, kv := range global {
		switch {
		case kv.Key[0] == psbtGlobalUnsignedTx && len(kv.Key) == 1:
			tx := &wire.MsgTx{}
			rd := bytes.NewReader(kv.Value)
			if err := tx.DeserializeNoWitness(rd); err != nil || rd.Len() != 0 {
				return nil, fmt.Errorf("%w: unsigned tx does not decode", ErrPSBT)
			}
			for i, in := range tx.TxIn {
				if len(in.SignatureScript) != 0 {
					return nil, fmt.Errorf("%w: unsigned tx input %d has a scriptSig", ErrPSBT, i)
				}
			}
			p.Tx = tx
		case kv.Key[0] == psbtGlobalVersion && len(kv.Key) == 1:
			if !bytes.Equal(kv.Value, []byte{0, 0, 0, 0}) {
				return nil, fmt.Errorf("%w: PSBT version %x, only version 0 is supported", ErrPSBT, kv.Value)
			}
			p.Unknown = append(p.Unknown, kv)
		default:
			p.Unknown = append(p.Unknown, kv)
		}
	}
	if p.Tx == nil {
		return nil, fmt.Errorf("%w: no unsigned transaction", ErrPSBT)
	}
	// Each map needs at least its separator byte: bound before allocating.
	if len(p.Tx.TxIn)+len(p.Tx.TxOut) > len(raw)-r.off {
		return nil, fmt.Errorf("%w: fewer maps than inputs and outputs", ErrPSBT)
	}
	p.Inputs = make([]PSBTInput, len(p.Tx.TxIn))
	for i := range p.Inputs {
		pairs, err := r.readMap(fmt.Sprintf("input %d", i))
		if err != nil {
			return nil, err
		}
		if err := p.Inputs[i].decode(pairs); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
	}
	p.Outputs = make([]PSBTOutput, len(p.Tx.TxOut))
	for i := range p.Outputs {
		pairs, err := r.readMap(fmt.Sprintf("output %d", i))
		if err != nil {
			return nil, err
		}
		if err := p.Outputs[i].decode(pairs); err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
	}
	if r.off != len(raw) {
		return nil, fmt.Errorf("%w: %d bytes after the last map", ErrPSBT, len(raw)-r.off)
	}
	return p, nil
}

func (in *PSBTInput) decode(pairs []PSBTPair) error {
	for _, kv := range pairs {
		k, v := kv.Key, kv.Value
		switch k[0] {
		case psbtInWitnessUTXO:
			if len(k) != 1 {
				return fmt.Errorf("%w: witness utxo key of %d bytes", ErrPSBT, len(k))
			}
			o := &wire.TxOut{}
			rd := bytes.NewReader(v)
			if err := wire.ReadTxOut(rd, 0, 0, o); err != nil || rd.Len() != 0 || o.Value < 0 || o.Value > maxMoney {
				return fmt.Errorf("%w: witness utxo does not decode", ErrPSBT)
			}
			in.WitnessUTXO = o
		case psbtInFinalScriptWitness:
			if len(k) != 1 {
				return fmt.Errorf("%w: final witness key of %d bytes", ErrPSBT, len(k))
			}
			in.FinalScriptWitness = v
		case psbtInTapScriptSig:
			if len(k) != 65 || (len(v) != 64 && len(v) != 65) {
				return fmt.Errorf("%w: tap script sig: key %d bytes, sig %d bytes", ErrPSBT, len(k), len(v))
			}
			if _, err := schnorr.ParsePubKey(k[1:33]); err != nil {
				return fmt.Errorf("%w: tap script sig key: %v", ErrPSBT, err)
			}
			in.TapScriptSigs = append(in.TapScriptSigs, TapScriptSig{XOnly: [32]byte(k[1:33]), LeafHash: [32]byte(k[33:65]), Sig: v})
		case psbtInTapLeafScript:
			cb := k[1:]
			if len(cb) < 33 || (len(cb)-33)%32 != 0 || len(cb) > 33+32*128 || len(v) < 1 {
				return fmt.Errorf("%w: tap leaf script: control block %d bytes, value %d bytes", ErrPSBT, len(cb), len(v))
			}
			if _, err := txscript.ParseControlBlock(cb); err != nil {
				return fmt.Errorf("%w: tap leaf script: %v", ErrPSBT, err)
			}
			in.TapLeafScripts = append(in.TapLeafScripts, TapLeafScript{ControlBlock: cb, Script: v[:len(v)-1], LeafVersion: v[len(v)-1]})
		case psbtInTapInternalKey:
			if len(k) != 1 || len(v) != 32 {
				return fmt.Errorf("%w: tap internal key of %d bytes", ErrPSBT, len(v))
			}
			in.TapInternalKey = v
		case psbtInTapMerkleRoot:
			if len(k) != 1 || len(v) != 32 {
				return fmt.Errorf("%w: tap merkle root of %d bytes", ErrPSBT, len(v))
			}
			in.TapMerkleRoot = v
		default:
			in.Unknown = append(in.Unknown, kv)
		}
	}
	return nil
}

func (o *PSBTOutput) decode(pairs []PSBTPair) error {
	for _, kv := range pairs {
		k, v := kv.Key, kv.Value
		switch k[0] {
		case psbtOutTapInternalKey:
			if len(k) != 1 || len(v) != 32 {
				return fmt.Errorf("%w: output tap internal key of %d bytes", ErrPSBT, len(v))
			}
			o.TapInternalKey = v
		case psbtOutTapTree:
			if len(k) != 1 || !validTapTree(v) {
				return fmt.Errorf("%w: output tap tree does not decode", ErrPSBT)
			}
			o.TapTree = v
		default:
			o.Unknown = append(o.Unknown, kv)
		}
	}
	return nil
}

// validTapTree checks a BIP-371 tap tree: at least one leaf, each a depth
// (at most 128), a leaf version and a length-prefixed script, nothing left.
func validTapTree(v []byte) bool {
	r := &psbtReader{b: v}
	n := 0
	for r.off < len(v) {
		if len(v)-r.off < 2 || v[r.off] > 128 {
			return false
		}
		r.off += 2
		if _, err := r.bytes(); err != nil {
			return false
		}
		n++
	}
	return n > 0
}
