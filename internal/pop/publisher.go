package pop

import (
	"bytes"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// PublisherOf identifies who published a PoP transaction: the Ethereum
// address (keccak256 of the uncompressed public key, as for any
// Ethereum account) of the secp256k1 key that signed tx's first input,
// given the script of the output that input spends. Recognised:
//
//   - P2WPKH: the witness is [signature, public key] and the key's
//     HASH160 is the program;
//   - P2PKH: the scriptSig pushes [signature, public key] and the key's
//     HASH160 is the script's;
//   - P2TR key-path spend (a witness of one signature, plus an optional
//     annex): the output key of the script, taken with even Y (BIP 340),
//     so the address is that of the BIP 86 tweaked key, which the
//     wallet that signed holds.
//
// Anything else (script-path spends, multisig, P2SH, a coinbase, a key
// that does not match) is not identified: ok is false. The signature
// itself is not checked: the Bitcoin index trusts the most-work chain,
// whose blocks carry only valid spends.
func PublisherOf(tx *wire.MsgTx, prevScript []byte) (common.Address, bool) {
	if tx == nil || len(tx.TxIn) == 0 {
		return common.Address{}, false
	}
	in := tx.TxIn[0]
	switch {
	case isP2WPKH(prevScript):
		if len(in.Witness) != 2 || len(in.SignatureScript) != 0 {
			return common.Address{}, false
		}
		return keyHashAddress(in.Witness[1], prevScript[2:22])
	case isP2PKH(prevScript):
		if len(in.Witness) != 0 {
			return common.Address{}, false
		}
		pushes, err := txscript.PushedData(in.SignatureScript)
		if err != nil || len(pushes) != 2 {
			return common.Address{}, false
		}
		return keyHashAddress(pushes[1], prevScript[3:23])
	case isP2TR(prevScript):
		w := in.Witness
		if len(w) == 2 && len(w[1]) > 0 && w[1][0] == txscript.TaprootAnnexTag {
			w = w[:1]
		}
		if len(w) != 1 || len(in.SignatureScript) != 0 {
			return common.Address{}, false
		}
		pub, err := schnorr.ParsePubKey(prevScript[2:34])
		if err != nil {
			return common.Address{}, false
		}
		return ethAddress(pub), true
	}
	return common.Address{}, false
}

func isP2WPKH(s []byte) bool {
	return len(s) == 22 && s[0] == txscript.OP_0 && s[1] == txscript.OP_DATA_20
}

func isP2PKH(s []byte) bool {
	return len(s) == 25 && s[0] == txscript.OP_DUP && s[1] == txscript.OP_HASH160 && s[2] == txscript.OP_DATA_20 &&
		s[23] == txscript.OP_EQUALVERIFY && s[24] == txscript.OP_CHECKSIG
}

func isP2TR(s []byte) bool {
	return len(s) == 34 && s[0] == txscript.OP_1 && s[1] == txscript.OP_DATA_32
}

// keyHashAddress parses a serialized public key whose HASH160 must be
// hash.
func keyHashAddress(key, hash []byte) (common.Address, bool) {
	if !bytes.Equal(address.Hash160(key), hash) {
		return common.Address{}, false
	}
	pub, err := btcec.ParsePubKey(key)
	if err != nil {
		return common.Address{}, false
	}
	return ethAddress(pub), true
}

// ethAddress is the Ethereum address of a secp256k1 public key.
func ethAddress(pub *btcec.PublicKey) common.Address {
	return common.BytesToAddress(crypto.Keccak256(pub.SerializeUncompressed()[1:])[12:])
}
