package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// errSendBatch: a target refused a transaction or answered a batch
// wrongly.
var errSendBatch = errors.New("bench: eth_sendRawTransaction batch")

// sendBatch is one JSON-RPC batch of eth_sendRawTransaction calls,
// encoded before the timed sends start (as the transactions are signed
// before): call j has id j and sends txs[idx[j]].
type sendBatch struct {
	idx  []int
	body []byte
}

// encodePlan encodes each client's batches of plan (see streams).
func encodePlan(txs []signedTx, plan [][][]int) [][]sendBatch {
	out := make([][]sendBatch, len(plan))
	for c, bs := range plan {
		for _, idx := range bs {
			out[c] = append(out[c], encodeBatch(txs, idx))
		}
	}
	return out
}

// encodeBatch encodes the calls sending txs[k] for k in idx.
func encodeBatch(txs []signedTx, idx []int) sendBatch {
	var b bytes.Buffer
	b.WriteByte('[')
	for j, k := range idx {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"jsonrpc":"2.0","id":`)
		b.WriteString(strconv.Itoa(j))
		b.WriteString(`,"method":"eth_sendRawTransaction","params":["`)
		b.WriteString(hexutil.Encode(txs[k].raw))
		b.WriteString(`"]}`)
	}
	b.WriteByte(']')
	return sendBatch{idx: idx, body: b.Bytes()}
}

// batchAnswer is one call's answer.
type batchAnswer struct {
	ID     *int         `json:"id"`
	Result *common.Hash `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// post sends b to url over hc and checks that every call was answered
// with its transaction's hash.
func (b sendBatch) post(ctx context.Context, hc *http.Client, url string, txs []signedTx) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b.body))
	if err != nil {
		return fmt.Errorf("%w: %w", errSendBatch, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errSendBatch, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%w: read answer: %w", errSendBatch, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: HTTP %s: %.200s", errSendBatch, resp.Status, body)
	}
	var answers []batchAnswer
	if err := json.Unmarshal(body, &answers); err != nil {
		return fmt.Errorf("%w: answer %.200s: %w", errSendBatch, body, err)
	}
	if len(answers) != len(b.idx) {
		return fmt.Errorf("%w: %d answers to %d calls", errSendBatch, len(answers), len(b.idx))
	}
	seen := make([]bool, len(b.idx))
	for _, a := range answers {
		if a.ID == nil || *a.ID < 0 || *a.ID >= len(b.idx) || seen[*a.ID] {
			return fmt.Errorf("%w: an answer with a bad or repeated id", errSendBatch)
		}
		seen[*a.ID] = true
		want := txs[b.idx[*a.ID]].hash
		switch {
		case a.Error != nil:
			return fmt.Errorf("%w: transaction %s: %d %s", errSendBatch, want, a.Error.Code, a.Error.Message)
		case a.Result == nil:
			return fmt.Errorf("%w: transaction %s: no result", errSendBatch, want)
		case *a.Result != want:
			return fmt.Errorf("%w: sent %s, the node answered %s", errSendBatch, want, *a.Result)
		}
	}
	return nil
}
