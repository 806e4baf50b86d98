// Package integration proves the Bitcoin layer (internal/tbc) against real
// btcd processes. It holds tests only: the service syncs over P2P from btcd
// (regtest, --txindex --addrindex, --rejectnonstd) and every index answer is
// compared with btcd's own RPC answers, for the tip and as of earlier or
// losing-fork blocks; broadcasts go through our P2P client; reorgs (and a
// reorg back onto an earlier fork) are made by btcd nodes mining apart;
// restarts and kill -9 of a child process reopen the index.
//
// The helpers read as a scenario (dcrd's chaingenHarness, btcd's rpctest):
//
//   - wallet builds and sends transactions: spends of matured coinbases of
//     btcdtest's mining key into the test's P2WPKH and P2TR keys, chains of
//     spends between them, OP_RETURNs and PoP keystone publications.
//   - snapshot records btcd's answers (getblockhash, getblockheader,
//     getblock, getrawtransaction, searchrawtransactions + gettxout) at one
//     moment; compareIndex checks our index against it as of that block,
//     and compareAPI does the same through the HTTP API.
//   - startNode runs a tbc.Service on a data directory until the test ends.
//
// btcdtest skips a test only when no btcd binary is installed; `make test`
// installs it, so CI never skips. Set HEMI_TEST_LOG=1 to see the service's
// logs; otherwise they are printed only when a test fails.
//
// Layer: test support (DESIGN 3.5, 7).
package integration
