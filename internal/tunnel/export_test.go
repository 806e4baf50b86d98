package tunnel

// NewWithdrawalsNoMemo is NewWithdrawals whose vault watch reads every
// vault spend from the start at each block (no memo), for tests that
// compare the two.
func NewWithdrawalsNoMemo(cfg WithdrawalConfig) (*Withdrawals, error) {
	w, err := NewWithdrawals(cfg)
	if w != nil {
		w.useMemo = false
	}
	return w, err
}
