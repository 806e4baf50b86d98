// Package pebblelog routes the logs of a pebble database (the Bitcoin
// index's, the PoP miner's state) to the owning subsystem's slog logger,
// so each database logs under its subsystem with static messages:
// information at Debug, errors at Warn. Close is how those databases
// close: flushed (so a restart replays nothing) and with their
// write-ahead logs tidied (so a restart deletes nothing). ReplayedKeys
// reads pebble's report of its write-ahead log replay at open, for their
// tests.
//
// Invariant: Fatalf never returns. Pebble calls it for a broken invariant
// of its own and expects it to stop the process's use of the database; it
// logs at Error and panics.
//
// Layer: base (DESIGN 3.6, 7).
package pebblelog
