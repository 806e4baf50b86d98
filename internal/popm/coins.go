package popm

import "context"

// CoinPage is the page size the wallet's coins are read in (the query
// API's largest).
const CoinPage = 1000

// AllCoins reads every page of the wallet's unspent outputs, page 0 on,
// until a short page: a wallet may hold any number of them (funded by
// many small payments, or dusted by strangers), and a coin left unread
// is a coin the miner cannot spend. Every page is read as of the same
// block, so together they are one consistent set. Each Bitcoin's Coins
// uses it (APIBitcoin; the assembly's in-process adapter).
func AllCoins(ctx context.Context, page func(p int) ([]Coin, error)) ([]Coin, error) {
	var out []Coin
	for p := 0; ; p++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cs, err := page(p)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		if len(cs) < CoinPage {
			return out, nil
		}
	}
}
