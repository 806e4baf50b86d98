// Package pebblelog routes the logs of a pebble database (the Bitcoin
// index's, the PoP miner's state) to the owning subsystem's slog logger,
// so each database logs under its subsystem with static messages:
// information at Debug, errors at Warn. ReplayedKeys reads pebble's
// report of its write-ahead log replay at open, for the tests of the
// databases that flush when they close (so a restart replays nothing).
//
// Invariant: Fatalf never returns. Pebble calls it for a broken invariant
// of its own and expects it to stop the process's use of the database; it
// logs at Error and panics.
//
// Layer: base (DESIGN 3.6, 7).
package pebblelog
