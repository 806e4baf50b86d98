package genesis

import (
	"encoding/hex"
	"fmt"
	"math"
	"regexp"

	"github.com/ethereum/go-ethereum/common"
)

// The genesis file's "tunnel" object (TunnelConfig), every field
// required:
//
//	signers                   ["<x-only key, 64 hex digits>", ...]
//	k                         committee threshold
//	recovery                  ["<x-only key>", ...] in leaf order
//	m                         recovery threshold
//	recovery_delay            N, Bitcoin blocks (CSV)
//	deposit_confirmations     Bitcoin confirmations before a mint
//	withdrawal_confirmations  Bitcoin confirmations before "paid"
//	min_deposit_sat           smaller deposits are refunded
//	max_deposits_per_block    the rest carry over
//	rederive_blocks           Bitcoin blocks before a payout is re-derived
//	tunnel_address            the tunnel predeploy
//	hbtc_address              the hBTC predeploy
//
// Absent or null: no tunnel. Keys are written lowercase; either case is
// read.

const (
	helpTunnel       = `the tunnel's parameters (DESIGN 6), or null for no tunnel`
	helpTunnelKeys   = "a list of BIP-340 x-only public keys, 64 hex digits each (no 0x)"
	helpK            = "how many of the signers must sign a payout"
	helpM            = "how many recovery keys must sign a recovery spend"
	helpRecoveryDel  = "N, the Bitcoin blocks after which the recovery set may spend a vault output (default 4032)"
	helpDepositConf  = "Bitcoin confirmations a deposit needs before it is minted (default 6)"
	helpWithdrawConf = "Bitcoin confirmations a payout needs before its batch is paid (default 6)"
	helpMinDeposit   = "the smallest deposit minted, in satoshis (default 10000)"
	helpMaxDeposits  = "deposits derived per L2 block, the rest carry over (default 64)"
	helpRederive     = "Bitcoin blocks an unconfirmed payout waits before it is re-derived at a higher fee (default 6)"
	helpPredeploy    = "the predeploy's L2 address, 0x and 40 hex digits"
)

var xOnlyRe = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (f *File) decodeTunnel(root *object) error {
	root.read["tunnel"] = true
	if root.m["tunnel"] == nil { // absent or null
		return nil
	}
	o, err := asObject(root.m["tunnel"], "tunnel", helpTunnel)
	if err != nil {
		return err
	}
	t := &TunnelConfig{}
	if t.Signers, err = o.xOnlyKeys("signers"); err != nil {
		return err
	}
	k, err := o.uint("k", MaxTunnelKeys, helpK)
	if err != nil {
		return err
	}
	t.K = int(k)
	if t.Recovery, err = o.xOnlyKeys("recovery"); err != nil {
		return err
	}
	m, err := o.uint("m", MaxTunnelKeys, helpM)
	if err != nil {
		return err
	}
	t.M = int(m)
	n, err := o.uint("recovery_delay", math.MaxUint16, helpRecoveryDel)
	if err != nil {
		return err
	}
	t.RecoveryDelay = uint16(n)
	dc, err := o.uint("deposit_confirmations", math.MaxUint32, helpDepositConf)
	if err != nil {
		return err
	}
	t.DepositConfirmations = uint32(dc)
	wc, err := o.uint("withdrawal_confirmations", math.MaxUint32, helpWithdrawConf)
	if err != nil {
		return err
	}
	t.WithdrawalConfirmations = uint32(wc)
	if t.MinDepositSat, err = o.uint("min_deposit_sat", MaxJSONInt, helpMinDeposit); err != nil {
		return err
	}
	md, err := o.uint("max_deposits_per_block", MaxDepositsPerBlockLimit, helpMaxDeposits)
	if err != nil {
		return err
	}
	t.MaxDepositsPerBlock = int(md)
	rd, err := o.uint("rederive_blocks", math.MaxUint32, helpRederive)
	if err != nil {
		return err
	}
	t.RederiveBlocks = uint32(rd)
	if t.TunnelAddress, err = o.address("tunnel_address"); err != nil {
		return err
	}
	if t.HBTCAddress, err = o.address("hbtc_address"); err != nil {
		return err
	}
	f.Config.Tunnel = t
	return o.finish()
}

func (o *object) xOnlyKeys(key string) ([][32]byte, error) {
	list, err := o.array(key, helpTunnelKeys)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, len(list))
	for i, v := range list {
		path := fmt.Sprintf("%s[%d]", o.at(key), i)
		s, ok := v.(string)
		if !ok {
			return nil, fileErr(path, "want a string (%s), got %s", helpTunnelKeys, kind(v))
		}
		if !xOnlyRe.MatchString(s) {
			return nil, fileErr(path, "%q: want a BIP-340 x-only public key, 64 hex digits without 0x (a 33-byte compressed key without its first byte)", s)
		}
		hex.Decode(out[i][:], []byte(s)) // checked by xOnlyRe
	}
	return out, nil
}

func (o *object) address(key string) (common.Address, error) {
	s, err := o.str(key, helpPredeploy)
	if err != nil {
		return common.Address{}, err
	}
	if !addressRe.MatchString(s) {
		return common.Address{}, fileErr(o.at(key), "%q: want %s", s, helpPredeploy)
	}
	return common.HexToAddress(s), nil
}

// tunnelTree is t in the file's normal form, nil (null) for no tunnel.
func tunnelTree(t *TunnelConfig) any {
	if t == nil {
		return nil
	}
	keys := func(ks [][32]byte) []any {
		out := make([]any, len(ks))
		for i, k := range ks {
			out[i] = hex.EncodeToString(k[:])
		}
		return out
	}
	return fields{
		{"signers", keys(t.Signers)},
		{"k", uint64(max(t.K, 0))},
		{"recovery", keys(t.Recovery)},
		{"m", uint64(max(t.M, 0))},
		{"recovery_delay", uint64(t.RecoveryDelay)},
		{"deposit_confirmations", uint64(t.DepositConfirmations)},
		{"withdrawal_confirmations", uint64(t.WithdrawalConfirmations)},
		{"min_deposit_sat", t.MinDepositSat},
		{"max_deposits_per_block", uint64(max(t.MaxDepositsPerBlock, 0))},
		{"rederive_blocks", uint64(t.RederiveBlocks)},
		{"tunnel_address", lowerHex(t.TunnelAddress.Bytes())},
		{"hbtc_address", lowerHex(t.HBTCAddress.Bytes())},
	}
}
