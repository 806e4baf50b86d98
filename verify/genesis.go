package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// maxGenesisSize bounds a genesis file (the node's limit).
const maxGenesisSize = 64 << 20

// genesisFile is the part of a genesis file (format 1, internal/chain/
// genesis package doc) that makes a network's identity for the verifier.
// Other fields are allowed and ignored: the node's decoder validates the
// file; the verifier needs only who seals, which chain, and the tunnel.
type genesisFile struct {
	Version int    `json:"version"`
	ChainID uint64 `json:"chain_id"`
	Bitcoin *struct {
		Network string `json:"network"`
	} `json:"bitcoin"`
	Sequencers []struct {
		Address string `json:"address"`
		Name    string `json:"name"`
	} `json:"sequencers"`
	KeystoneInterval uint64 `json:"keystone_interval"`
	PoP              *struct {
		SuperfinalDepth uint32 `json:"superfinal_depth"`
	} `json:"pop"`
	Tunnel *struct {
		Signers              []string `json:"signers"`
		K                    int      `json:"k"`
		Recovery             []string `json:"recovery"`
		M                    int      `json:"m"`
		RecoveryDelay        uint16   `json:"recovery_delay"`
		DepositConfirmations uint32   `json:"deposit_confirmations"`
		MinDepositSat        uint64   `json:"min_deposit_sat"`
		TunnelAddress        string   `json:"tunnel_address"`
	} `json:"tunnel"`
}

// ParseGenesis reads a network's identity from its genesis file (the
// user's --genesis): chain id, Bitcoin network, sequencer addresses,
// keystone interval, superfinal depth and the tunnel. GenesisHash is
// keccak256 of the file's JCS form (RFC 8785: sorted keys, no
// whitespace), which is the node's genesis hash for a file it wrote.
func ParseGenesis(data []byte) (*Identity, error) { return parseGenesis(data, true) }

// parseGenesis is ParseGenesis, computing GenesisHash only if hash is
// set: no check reads it (a bundle names no genesis hash), and the hash
// takes a second JSON decoding and an encoding of the whole file, a
// tenth of a verification in WebAssembly.
func parseGenesis(data []byte, hash bool) (*Identity, error) {
	if len(data) > maxGenesisSize {
		return nil, fmt.Errorf("%w: genesis file of %d bytes, the limit is %d", ErrIdentity, len(data), maxGenesisSize)
	}
	var f genesisFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: genesis file: %v", ErrIdentity, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%w: genesis file version %d, this verifier reads 1", ErrIdentity, f.Version)
	}
	if f.ChainID == 0 || f.Bitcoin == nil || len(f.Sequencers) == 0 || f.KeystoneInterval == 0 {
		return nil, fmt.Errorf("%w: the genesis file lacks chain_id, bitcoin.network, sequencers or keystone_interval", ErrIdentity)
	}
	id := &Identity{Name: "chain " + strconv.FormatUint(f.ChainID, 10), ChainID: f.ChainID, BitcoinNetwork: f.Bitcoin.Network,
		KeystoneInterval: f.KeystoneInterval, SuperfinalDepth: 10}
	if _, ok := Networks[id.BitcoinNetwork]; !ok {
		return nil, fmt.Errorf("%w: bitcoin.network %q is not mainnet, testnet4, signet or regtest", ErrIdentity, id.BitcoinNetwork)
	}
	if f.PoP != nil && f.PoP.SuperfinalDepth > 0 {
		id.SuperfinalDepth = f.PoP.SuperfinalDepth
	}
	for i, s := range f.Sequencers {
		if !common.IsHexAddress(s.Address) {
			return nil, fmt.Errorf("%w: sequencers[%d].address %q", ErrIdentity, i, s.Address)
		}
		id.Sequencers = append(id.Sequencers, common.HexToAddress(s.Address))
	}
	if t := f.Tunnel; t != nil {
		tun := &Tunnel{K: t.K, M: t.M, RecoveryDelay: t.RecoveryDelay, DepositConfirmations: t.DepositConfirmations, MinDepositSat: t.MinDepositSat}
		var err error
		if tun.Signers, err = xOnlyKeys("tunnel.signers", t.Signers); err != nil {
			return nil, err
		}
		if tun.Recovery, err = xOnlyKeys("tunnel.recovery", t.Recovery); err != nil {
			return nil, err
		}
		if !common.IsHexAddress(t.TunnelAddress) {
			return nil, fmt.Errorf("%w: tunnel.tunnel_address %q", ErrIdentity, t.TunnelAddress)
		}
		tun.TunnelAddress = common.HexToAddress(t.TunnelAddress)
		if tun.DepositConfirmations == 0 {
			return nil, fmt.Errorf("%w: tunnel.deposit_confirmations is 0", ErrIdentity)
		}
		id.Tunnel = tun
	}
	if hash {
		h, err := jcsHash(data)
		if err != nil {
			return nil, fmt.Errorf("%w: genesis file: %v", ErrIdentity, err)
		}
		id.GenesisHash = h
	}
	return id, nil
}

func xOnlyKeys(field string, in []string) ([][32]byte, error) {
	out := make([][32]byte, len(in))
	for i, s := range in {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%w: %s[%d] %q: want 64 hex digits", ErrIdentity, field, i, s)
		}
		out[i] = [32]byte(b)
	}
	return out, nil
}

// jcsHash is keccak256 of data's RFC 8785 form: keys sorted, no
// whitespace, numbers as written (the genesis format has integers only).
func jcsHash(data []byte) (common.Hash, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return common.Hash{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return common.Hash{}, err
	}
	return crypto.Keccak256Hash(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}
