package tunnel

// Script-path signing of vault spends (DESIGN 6): BIP-340 Schnorr
// signatures under BIP-342 tapscript, SIGHASH_DEFAULT (64-byte signatures,
// committing to every input's amount and script, so a signer that checked
// the prevouts cannot be tricked about the fee), and witness assembly that
// verifies every posted signature first: in a multi_a leaf one bad
// signature fails the whole script, so a bad one is dropped and the good
// ones are used. The leaf's keys and threshold are read from the leaf
// script itself (parseLeaf), never from configuration, so what is signed
// and assembled is exactly what the vault output commits to.

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

var (
	// ErrSignature is a signature that does not decode or does not verify.
	ErrSignature = errors.New("tunnel: bad signature")
	// ErrNotSigner is a key that is not in the leaf being signed.
	ErrNotSigner = errors.New("tunnel: key not in the leaf")
	// ErrTooFewSignatures is an assembly with fewer than the threshold of
	// good signers.
	ErrTooFewSignatures = errors.New("tunnel: too few good signatures")
	// ErrPrevouts is a prevout list that does not match the transaction.
	ErrPrevouts = errors.New("tunnel: prevouts do not match the inputs")
)

// SignatureSize is a SIGHASH_DEFAULT BIP-340 signature's length.
const SignatureSize = 64

// leaf is a multi_a-style tapscript leaf: keys in script order, the
// threshold, and the relative timelock before them (0: none).
type leaf struct {
	script  []byte
	keys    [][32]byte
	k       int
	older   int64
	control []byte
}

// parseLeaf reads `[<N> OP_CSV OP_VERIFY] <key_1> OP_CHECKSIG (<key_i>
// OP_CHECKSIGADD)* <k> OP_NUMEQUAL`, the shape of both vault leaves.
func parseLeaf(script []byte) (leaf, error) {
	l := leaf{script: script}
	var ops []struct {
		op   byte
		data []byte
	}
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		ops = append(ops, struct {
			op   byte
			data []byte
		}{tok.Opcode(), tok.Data()})
	}
	if err := tok.Err(); err != nil {
		return leaf{}, fmt.Errorf("%w: leaf script: %v", ErrVault, err)
	}
	if len(ops) >= 3 && ops[1].op == txscript.OP_CHECKSEQUENCEVERIFY && ops[2].op == txscript.OP_VERIFY {
		n, ok := smallInt(ops[0].op, ops[0].data)
		if !ok || n <= 0 {
			return leaf{}, fmt.Errorf("%w: leaf timelock is not a positive number", ErrVault)
		}
		l.older = n
		ops = ops[3:]
	}
	// keys: pairs (push32, CHECKSIG|CHECKSIGADD), then <k> NUMEQUAL.
	if len(ops) < 4 || len(ops)%2 != 0 {
		return leaf{}, fmt.Errorf("%w: leaf is not multi_a", ErrVault)
	}
	nk := (len(ops) - 2) / 2
	for i := 0; i < nk; i++ {
		push, check := ops[2*i], ops[2*i+1]
		want := byte(txscript.OP_CHECKSIGADD)
		if i == 0 {
			want = txscript.OP_CHECKSIG
		}
		if len(push.data) != 32 || push.op != txscript.OP_DATA_32 || check.op != want {
			return leaf{}, fmt.Errorf("%w: leaf is not multi_a at key %d", ErrVault, i)
		}
		l.keys = append(l.keys, [32]byte(push.data))
	}
	k, ok := smallInt(ops[len(ops)-2].op, ops[len(ops)-2].data)
	if !ok || ops[len(ops)-1].op != txscript.OP_NUMEQUAL || k < 1 || k > int64(nk) {
		return leaf{}, fmt.Errorf("%w: leaf threshold", ErrVault)
	}
	l.k = int(k)
	return l, nil
}

// smallInt decodes a minimally pushed non-negative script number of up
// to 3 bytes (OP_0, OP_1..OP_16 or a push), as multi_a thresholds and
// older() delays are written.
func smallInt(op byte, data []byte) (int64, bool) {
	switch {
	case op == txscript.OP_0:
		return 0, true
	case op >= txscript.OP_1 && op <= txscript.OP_16:
		return int64(op - txscript.OP_1 + 1), true
	case op >= txscript.OP_DATA_1 && op <= txscript.OP_DATA_3 && len(data) > 0:
		if data[len(data)-1]&0x80 != 0 { // negative (or a non-minimal sign byte)
			return 0, false
		}
		var v int64
		for i := len(data) - 1; i >= 0; i-- {
			v = v<<8 | int64(data[i])
		}
		return v, true
	}
	return 0, false
}

// vaultLeaf parses one of v's leaves and fetches its control block.
func vaultLeaf(v VaultScripts, script []byte) (leaf, error) {
	l, err := parseLeaf(script)
	if err != nil {
		return leaf{}, err
	}
	cb, err := v.ControlBlock(script)
	if err != nil {
		return leaf{}, fmt.Errorf("%w: control block: %v", ErrVault, err)
	}
	l.control = cb
	return l, nil
}

// witnessSize is the bytes of one input's witness spending l with exactly
// l.k signatures and empty items for the other keys.
func (l leaf) witnessSize() int {
	n := len(l.keys)
	s := wire.VarIntSerializeSize(uint64(n+2)) + l.k*(1+SignatureSize) + (n - l.k)
	s += wire.VarIntSerializeSize(uint64(len(l.script))) + len(l.script)
	s += wire.VarIntSerializeSize(uint64(len(l.control))) + len(l.control)
	return s
}

// CommitteeWitnessSize is the bytes of one committee-leaf input witness of
// a fully signed payout (the fee rule's witSize).
func CommitteeWitnessSize(v VaultScripts) (int, error) {
	l, err := vaultLeaf(v, v.CommitteeScript())
	if err != nil {
		return 0, err
	}
	return l.witnessSize(), nil
}

// fetcher checks prevouts against tx and returns the sighash inputs.
func sighashes(tx *wire.MsgTx, prevouts []*wire.TxOut) (*txscript.MultiPrevOutFetcher, *txscript.TxSigHashes, error) {
	if len(prevouts) != len(tx.TxIn) {
		return nil, nil, fmt.Errorf("%w: %d prevouts for %d inputs", ErrPrevouts, len(prevouts), len(tx.TxIn))
	}
	f := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range tx.TxIn {
		if prevouts[i] == nil {
			return nil, nil, fmt.Errorf("%w: prevout %d missing", ErrPrevouts, i)
		}
		f.AddPrevOut(in.PreviousOutPoint, prevouts[i])
	}
	return f, txscript.NewTxSigHashes(tx, f), nil
}

// leafSighashes are the BIP-342 SIGHASH_DEFAULT digests of every input of
// tx spending leaf l.
func leafSighashes(tx *wire.MsgTx, prevouts []*wire.TxOut, l leaf) ([][]byte, error) {
	f, h, err := sighashes(tx, prevouts)
	if err != nil {
		return nil, err
	}
	tl := txscript.NewBaseTapLeaf(l.script)
	out := make([][]byte, len(tx.TxIn))
	for i := range tx.TxIn {
		d, err := txscript.CalcTapscriptSignaturehash(h, txscript.SigHashDefault, tx, i, f, tl)
		if err != nil {
			return nil, fmt.Errorf("tunnel: sighash of input %d: %w", i, err)
		}
		out[i] = d
	}
	return out, nil
}

// XOnly is a public key's BIP-340 x-only serialization.
func XOnly(pub *btcec.PublicKey) [32]byte {
	return [32]byte(schnorr.SerializePubKey(pub))
}

// signLeaf signs every input of tx for leaf l with priv.
func signLeaf(tx *wire.MsgTx, prevouts []*wire.TxOut, l leaf, priv *btcec.PrivateKey) ([][]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: no key", ErrNotSigner)
	}
	me := XOnly(priv.PubKey())
	if l.keyIndex(me) < 0 {
		return nil, fmt.Errorf("%w: %x", ErrNotSigner, me)
	}
	digests, err := leafSighashes(tx, prevouts, l)
	if err != nil {
		return nil, err
	}
	sigs := make([][]byte, len(digests))
	for i, d := range digests {
		s, err := schnorr.Sign(priv, d)
		if err != nil {
			return nil, fmt.Errorf("tunnel: sign input %d: %w", i, err)
		}
		sigs[i] = s.Serialize()
	}
	return sigs, nil
}

func (l leaf) keyIndex(key [32]byte) int {
	for i, k := range l.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// SignPayout signs every input of payout tx (spending prevouts, all vault
// outputs) on the committee leaf with priv: one 64-byte signature per
// input, in input order, as postSignatures carries them. A key that is not
// a committee key is refused (ErrNotSigner).
func SignPayout(tx *wire.MsgTx, prevouts []*wire.TxOut, v VaultScripts, priv *btcec.PrivateKey) ([][]byte, error) {
	l, err := vaultLeaf(v, v.CommitteeScript())
	if err != nil {
		return nil, err
	}
	return signLeaf(tx, prevouts, l, priv)
}

// DecodeSignatures checks a signer's posted signatures for a transaction
// of inputs inputs: exactly one per input, each a well-formed 64-byte
// BIP-340 signature (a 65th sighash byte is refused: the vault signs with
// SIGHASH_DEFAULT only).
func DecodeSignatures(sigs [][]byte, inputs int) ([]*schnorr.Signature, error) {
	if len(sigs) != inputs {
		return nil, fmt.Errorf("%w: %d signatures for %d inputs", ErrSignature, len(sigs), inputs)
	}
	out := make([]*schnorr.Signature, len(sigs))
	for i, s := range sigs {
		if len(s) != SignatureSize {
			return nil, fmt.Errorf("%w: input %d: %d bytes, want %d", ErrSignature, i, len(s), SignatureSize)
		}
		p, err := schnorr.ParseSignature(s)
		if err != nil {
			return nil, fmt.Errorf("%w: input %d: %v", ErrSignature, i, err)
		}
		out[i] = p
	}
	return out, nil
}

// verifyLeafSigs checks key's signatures for every input against digests.
func verifyLeafSigs(digests [][]byte, key [32]byte, sigs [][]byte) error {
	parsed, err := DecodeSignatures(sigs, len(digests))
	if err != nil {
		return err
	}
	pub, err := schnorr.ParsePubKey(key[:])
	if err != nil {
		return fmt.Errorf("%w: key %x: %v", ErrVault, key, err)
	}
	for i, s := range parsed {
		if !s.Verify(digests[i], pub) {
			return fmt.Errorf("%w: input %d does not verify under %x", ErrSignature, i, key)
		}
	}
	return nil
}

// VerifySignature checks one committee key's posted signatures (one per
// input) over payout tx: ErrNotSigner for a key outside the committee,
// ErrSignature for a signature that does not decode or verify.
func VerifySignature(tx *wire.MsgTx, prevouts []*wire.TxOut, v VaultScripts, key [32]byte, sigs [][]byte) error {
	l, err := vaultLeaf(v, v.CommitteeScript())
	if err != nil {
		return err
	}
	if l.keyIndex(key) < 0 {
		return fmt.Errorf("%w: %x", ErrNotSigner, key)
	}
	digests, err := leafSighashes(tx, prevouts, l)
	if err != nil {
		return err
	}
	return verifyLeafSigs(digests, key, sigs)
}

// Dropped is a posted signature set that assembly did not use, and why.
type Dropped struct {
	Key    [32]byte
	Reason error
}

// assembleLeaf verifies every key's signatures and builds the witnesses
// from the first l.k good keys in leaf order.
func assembleLeaf(tx *wire.MsgTx, prevouts []*wire.TxOut, l leaf, sigsByKey map[[32]byte][][]byte) (*wire.MsgTx, []Dropped, error) {
	digests, err := leafSighashes(tx, prevouts, l)
	if err != nil {
		return nil, nil, err
	}
	var dropped []Dropped
	// Keys outside the leaf, in a fixed order for a stable report.
	var strangers [][32]byte
	for k := range sigsByKey {
		if l.keyIndex(k) < 0 {
			strangers = append(strangers, k)
		}
	}
	sort.Slice(strangers, func(i, j int) bool { return bytes.Compare(strangers[i][:], strangers[j][:]) < 0 })
	for _, k := range strangers {
		dropped = append(dropped, Dropped{Key: k, Reason: fmt.Errorf("%w: %x", ErrNotSigner, k)})
	}
	chosen := make([]bool, len(l.keys))
	good := 0
	for i, k := range l.keys {
		sigs, ok := sigsByKey[k]
		if !ok {
			continue
		}
		if good == l.k {
			break // enough; later keys' signatures are not needed
		}
		if err := verifyLeafSigs(digests, k, sigs); err != nil {
			dropped = append(dropped, Dropped{Key: k, Reason: err})
			continue
		}
		chosen[i] = true
		good++
	}
	if good < l.k {
		return nil, dropped, fmt.Errorf("%w: %d of %d", ErrTooFewSignatures, good, l.k)
	}
	out := tx.Copy()
	for in := range out.TxIn {
		wit := make(wire.TxWitness, 0, len(l.keys)+2)
		// The first key's CHECKSIG pops the top of the stack, which is the
		// last witness item before the script: keys go in reverse.
		for i := len(l.keys) - 1; i >= 0; i-- {
			if chosen[i] {
				wit = append(wit, sigsByKey[l.keys[i]][in])
			} else {
				wit = append(wit, []byte{})
			}
		}
		wit = append(wit, l.script, l.control)
		out.TxIn[in].Witness = wit
	}
	return out, dropped, nil
}

// Assemble builds the signed payout from the committee signatures posted
// so far (key -> one signature per input): every set is verified, a bad
// or foreign one is dropped (reported in the second result), and the
// first k good keys in the committee leaf's key order sign: exactly k
// non-empty signatures and empty items for the other keys. Fewer than k
// good sets is ErrTooFewSignatures. The result is checked with btcd's
// script engine before it is returned.
func Assemble(tx *wire.MsgTx, prevouts []*wire.TxOut, v VaultScripts, sigsByKey map[[32]byte][][]byte) (*wire.MsgTx, []Dropped, error) {
	l, err := vaultLeaf(v, v.CommitteeScript())
	if err != nil {
		return nil, nil, err
	}
	out, dropped, err := assembleLeaf(tx, prevouts, l, sigsByKey)
	if err != nil {
		return nil, dropped, err
	}
	if err := CheckSpend(out, prevouts); err != nil {
		return nil, dropped, err
	}
	return out, dropped, nil
}

// CheckSpend runs every input of tx through btcd's script engine with the
// standard verification flags: the last check before broadcasting.
func CheckSpend(tx *wire.MsgTx, prevouts []*wire.TxOut) error {
	f, h, err := sighashes(tx, prevouts)
	if err != nil {
		return err
	}
	for i := range tx.TxIn {
		e, err := txscript.NewEngine(prevouts[i].PkScript, tx, i, txscript.StandardVerifyFlags, nil, h, prevouts[i].Value, f)
		if err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrSignature, i, err)
		}
		if err := e.Execute(); err != nil {
			return fmt.Errorf("%w: input %d: %v", ErrSignature, i, err)
		}
	}
	return nil
}

// CommitteeKeys returns the committee leaf's keys in leaf order (the
// order of postSignatures' signerIndex) and its threshold k.
func CommitteeKeys(v VaultScripts) ([][32]byte, int, error) {
	l, err := parseLeaf(v.CommitteeScript())
	if err != nil {
		return nil, 0, err
	}
	return l.keys, l.k, nil
}
