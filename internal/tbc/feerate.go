package tbc

import "net/http"

// maxFeeTarget bounds ?target=: Bitcoin Core's estimatesmartfee allows
// up to 1008 blocks.
const maxFeeTarget = 1008

func (a *apiServer) feeRate(r *http.Request) (any, error) {
	target, err := queryInt(r, "target", 1, 1, maxFeeTarget)
	if err != nil {
		return nil, err
	}
	rate, tip, err := a.s.fees.Estimate(target)
	if err != nil {
		return nil, err
	}
	return FeeRate{Target: target, SatPerVB: rate, Window: a.s.fees.Window(), AsOf: tip.String()}, nil
}
