package tbc

// JSON shapes of the query API. Hashes are hex in Bitcoin's display order
// (as block explorers and bitcoin-cli print them); amounts are satoshis.

// Status is GET /v1/status.
type Status struct {
	Network      string  `json:"network"`
	BlockHash    string  `json:"block_hash"`
	BlockHeight  int32   `json:"block_height"`
	HeaderHash   string  `json:"header_hash"`
	HeaderHeight int32   `json:"header_height"`
	Peers        int     `json:"peers"`
	Synced       bool    `json:"synced"`
	BlocksPerSec float64 `json:"blocks_per_sec"`
	TxsPerSec    float64 `json:"txs_per_sec"`
	ETASeconds   float64 `json:"eta_seconds"`
}

// Tx is GET /v1/tx/{txid}.
type Tx struct {
	Txid          string `json:"txid"`
	BlockHash     string `json:"block_hash"`
	Height        int32  `json:"height"`
	Position      uint32 `json:"position"`
	Confirmations int32  `json:"confirmations"`
	Hex           string `json:"hex"`
}

// Balance is GET /v1/address/{address}/balance.
type Balance struct {
	Address  string `json:"address,omitempty"`
	Script   string `json:"script"`
	Satoshis int64  `json:"satoshis"`
	AsOf     string `json:"as_of"`
}

// UTXO is one entry of GET /v1/address/{address}/utxos.
type UTXO struct {
	Txid      string `json:"txid"`
	Vout      uint32 `json:"vout"`
	Satoshis  int64  `json:"satoshis"`
	Height    int32  `json:"height"`
	BlockHash string `json:"block_hash"`
	Position  uint32 `json:"position"`
}

// UTXOs is GET /v1/address/{address}/utxos.
type UTXOs struct {
	Address string `json:"address,omitempty"`
	Script  string `json:"script"`
	AsOf    string `json:"as_of"`
	Page    int    `json:"page"`
	UTXOs   []UTXO `json:"utxos"`
}

// Header is GET /v1/header/{height or hash}.
type Header struct {
	Hash       string `json:"hash"`
	Height     int32  `json:"height"`
	Version    int32  `json:"version"`
	PrevBlock  string `json:"prev_block"`
	MerkleRoot string `json:"merkle_root"`
	Time       int64  `json:"time"`
	Bits       string `json:"bits"`
	Nonce      uint32 `json:"nonce"`
	ChainWork  string `json:"chain_work"`
	MainChain  bool   `json:"main_chain"`
	HaveData   bool   `json:"have_data"`
}

// Spend is GET /v1/spend/{txid}/{vout}.
type Spend struct {
	Txid          string `json:"txid"`
	Input         uint32 `json:"input"`
	BlockHash     string `json:"block_hash"`
	Height        int32  `json:"height"`
	Position      uint32 `json:"position"`
	Confirmations int32  `json:"confirmations"`
}

// Publication is one entry of GET /v1/publications/{keystone id}.
type Publication struct {
	Txid          string `json:"txid"`
	Vout          uint32 `json:"vout"`
	BlockHash     string `json:"block_hash"`
	Height        int32  `json:"height"`
	Position      uint32 `json:"position"`
	Confirmations int32  `json:"confirmations"`
}

// BroadcastReply is POST /v1/tx.
type BroadcastReply struct {
	Txid       string   `json:"txid"`
	OK         bool     `json:"ok"`
	Accepted   []string `json:"accepted"`
	Rejected   []string `json:"rejected"`
	Unanswered []string `json:"unanswered"`
	MinedIn    string   `json:"mined_in,omitempty"`
	Summary    string   `json:"summary"`
}

// FeeRate is GET /v1/feerate?target=N: the fee rate (sat/vB) for
// confirmation within Target blocks, estimated from the last Window
// blocks as of AsOf.
type FeeRate struct {
	Target   int    `json:"target"`
	SatPerVB int64  `json:"sat_per_vb"`
	Window   int    `json:"window"`
	AsOf     string `json:"as_of"`
}

// apiError is the body of every non-2xx reply.
type apiError struct {
	Error string `json:"error"`
}
