package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/verify/vault"
)

// depositsSlot is the tunnel predeploy's ERC-7201 namespace
// "hemi.tunnel.deposits" (contracts/Tunnel.sol DEPOSITS_SLOT):
// keccak256(abi.encode(uint256(keccak256("hemi.tunnel.deposits")) - 1)) & ~0xff.
// minted is the mapping at depositsSlot + 1: minted[key] occupies
// keccak256(key . (depositsSlot+1)) holding to (bytes 12..31) and
// amountSat (bytes 4..11), and the next slot holding l2Block (bytes
// 24..31). key = keccak256(txid (wire order) || vout (uint32 BE)).
var depositsSlot = func() *big.Int {
	h := new(big.Int).SetBytes(crypto.Keccak256([]byte("hemi.tunnel.deposits")))
	h.Sub(h, big.NewInt(1))
	s := new(big.Int).SetBytes(crypto.Keccak256(common.BigToHash(h).Bytes()))
	return s.AndNot(s, big.NewInt(0xff))
}()

// DepositKey is the tunnel's key of deposit txid:vout.
func DepositKey(txidWire [32]byte, vout uint32) common.Hash {
	var b [36]byte
	copy(b[:32], txidWire[:])
	binary.BigEndian.PutUint32(b[32:], vout)
	return crypto.Keccak256Hash(b[:])
}

// MintedSlots are the two storage slots of minted[key].
func MintedSlots(key common.Hash) (common.Hash, common.Hash) {
	m := common.BigToHash(new(big.Int).Add(depositsSlot, big.NewInt(1)))
	base := new(big.Int).SetBytes(crypto.Keccak256(key[:], m[:]))
	return common.BigToHash(base), common.BigToHash(base.Add(base, big.NewInt(1)))
}

// Recipient parses the first OP_RETURN of tx that names an L2 recipient
// in Hemi's formats (DESIGN 6): 20 raw bytes, or 40 hex characters
// (either case, optionally 0x-prefixed).
func Recipient(tx *wire.MsgTx) (common.Address, bool) {
	for _, o := range tx.TxOut {
		s := o.PkScript
		if len(s) < 2 || s[0] != 0x6a {
			continue
		}
		n := int(s[1])
		if n > 75 || len(s) != 2+n {
			continue
		}
		d := s[2:]
		switch n {
		case 20:
			return common.BytesToAddress(d), true
		case 40, 42:
			str := string(d)
			if n == 42 {
				if !strings.HasPrefix(str, "0x") && !strings.HasPrefix(str, "0X") {
					continue
				}
				str = str[2:]
			}
			b, err := hex.DecodeString(str)
			if err == nil && len(b) == 20 {
				return common.BytesToAddress(b), true
			}
		}
	}
	return common.Address{}, false
}

func (v *verifier) deposit() error {
	d := v.b.Deposit
	tun := v.id.Tunnel
	tx, txid, err := v.btc.txInBlock("deposit transaction", &d.Bitcoin)
	if err != nil {
		return fail(LinkDepositTx, err)
	}
	if int(d.Vout) >= len(tx.TxOut) {
		return failf(LinkDepositTx, ErrDeposit, "output %d of deposit %v does not exist", d.Vout, txid)
	}
	out := tx.TxOut[d.Vout]
	v.r.Deposit = fmt.Sprintf("%v:%d", txid, d.Vout)
	v.r.DepositSat, v.r.DepositHeight = out.Value, d.Bitcoin.Height
	v.proved(LinkDepositTx, "deposit transaction %v is at position %d of Bitcoin block %d (merkle branch and the coinbase's, depth %d)", txid, d.Bitcoin.Index, d.Bitcoin.Height, len(d.Bitcoin.Branch))
	if tun == nil {
		return failf(LinkVault, ErrDeposit, "network %s has no tunnel in its identity: give its genesis file (with its tunnel section) with --genesis", v.id.Name)
	}
	vlt, err := vault.Derive(vault.Keys{Signers: tun.Signers, K: tun.K, Recovery: tun.Recovery, M: tun.M, RecoveryDelay: tun.RecoveryDelay})
	if err != nil {
		return failf(LinkVault, ErrDeposit, "the network's vault: %v", err)
	}
	if !bytes.Equal(out.PkScript, vlt.Script) {
		return failf(LinkVault, ErrDeposit, "output %d pays script %x, not the vault %x derived from %s's tunnel keys", d.Vout, out.PkScript, vlt.Script, v.id.Name)
	}
	v.proved(LinkVault, "output %d pays %s BTC to the vault %x derived from the network's %d-of-%d committee and %d-of-%d recovery keys (delay %d)", d.Vout, btcAmount(out.Value), vlt.OutputKey, tun.K, len(tun.Signers), tun.M, len(tun.Recovery), tun.RecoveryDelay)
	to, ok := Recipient(tx)
	if !ok {
		return failf(LinkRecipient, ErrDeposit, "deposit %v names no L2 recipient (no OP_RETURN of 20 bytes or 40 hex characters): it is refunded, not minted", txid)
	}
	v.r.Recipient = to.Hex()
	v.proved(LinkRecipient, "its OP_RETURN names L2 recipient %v", to)
	if uint64(out.Value) < tun.MinDepositSat {
		return failf(LinkAmount, ErrDeposit, "%d sat is below the network's minimum deposit %d sat: it is refunded, not minted", out.Value, tun.MinDepositSat)
	}
	v.proved(LinkAmount, "%d sat is at least the minimum deposit %d sat", out.Value, tun.MinDepositSat)

	bh, enc, _, err := v.l2Tx("mint", &d.Mint)
	if err != nil {
		return err
	}
	if len(enc) == 0 || enc[0] != systemTxType {
		return failf(LinkTx, ErrDeposit, "the mint %v is not a system transaction", d.Mint.Hash)
	}
	var stx systemTx
	if err := rlp.DecodeBytes(enc[1:], &stx); err != nil {
		return failf(LinkTx, ErrDeposit, "the mint system transaction: %v", err)
	}
	if want := sourceHash(domainTunnelDeposit, txid, uint64(d.Vout)); stx.SourceHash != want {
		return failf(LinkTx, ErrDeposit, "the system transaction's source hash %v is not deposit %v:%d's %v", stx.SourceHash, txid, d.Vout, want)
	}
	v.r.L2Block, v.r.L2BlockHash, v.r.TxHash = bh.h.Number.Uint64(), bh.hash.Hex(), d.Mint.Hash.Hex()
	v.proved(LinkTx, "the deposit's system transaction %v (source hash of %v:%d) is at position %d of L2 block %d %v", d.Mint.Hash, txid, d.Vout, d.Mint.Index, bh.h.Number, bh.hash)

	key := DepositKey(txid, d.Vout)
	s0, s1 := MintedSlots(key)
	if len(d.StorageProofs) != 2 {
		return failf(LinkMinted, ErrDeposit, "%d storage proofs, want 2 (the two slots of minted[%v])", len(d.StorageProofs), key)
	}
	acc, err := proveAccount(v.kh.h.Root, tun.TunnelAddress, d.AccountProof)
	if err != nil {
		return fail(LinkMinted, err)
	}
	w0, err := proveSlot(acc, tun.TunnelAddress, s0, d.StorageProofs[0])
	if err != nil {
		return fail(LinkMinted, err)
	}
	w1, err := proveSlot(acc, tun.TunnelAddress, s1, d.StorageProofs[1])
	if err != nil {
		return fail(LinkMinted, err)
	}
	gotTo := common.BytesToAddress(w0[12:32])
	gotAmount := binary.BigEndian.Uint64(w0[4:12])
	gotBlock := binary.BigEndian.Uint64(w1[24:32])
	switch {
	case gotBlock == 0:
		return failf(LinkMinted, ErrDeposit, "the keystone's state has no mint of deposit %v:%d", txid, d.Vout)
	case gotTo != to:
		return failf(LinkMinted, ErrDeposit, "minted[%v] credits %v, the deposit names %v", key, gotTo, to)
	case gotAmount != uint64(out.Value):
		return failf(LinkMinted, ErrDeposit, "minted[%v] is %d sat, the vault output is %d sat", key, gotAmount, out.Value)
	case gotBlock != bh.h.Number.Uint64():
		return failf(LinkMinted, ErrDeposit, "minted[%v] names L2 block %d, the mint is in block %d", key, gotBlock, bh.h.Number)
	}
	v.proved(LinkMinted, "the keystone's state root proves the tunnel's minted[%v] = (%v, %d sat, L2 block %d) (EIP-1186 proofs)", key, to, gotAmount, gotBlock)
	return nil
}
