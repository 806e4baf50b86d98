package index

import "errors"

// Errors returned by the index. Callers test them with errors.Is; every
// returned error wraps one of these with context.
var (
	// ErrInvalid: a header or block a peer sent breaks a rule (proof of
	// work, retarget, median time, checkpoints, merkle root, size); the
	// P2P client bans the peer (ErrInvalid is this value). Below the
	// client, so the index needs nothing of it.
	ErrInvalid = errors.New("invalid data from peer")

	// ErrUnconnected: headers whose first has no known parent; the P2P
	// client asks again with a fresh locator (ErrUnconnected is this
	// value).
	ErrUnconnected = errors.New("headers do not connect to any known header")

	// ErrNotFound: the transaction, output, spend or publication does not
	// exist as of the requested block.
	ErrNotFound = errors.New("not found")

	// ErrUnknownBlock: the as-of block hash or height is not known to the
	// header tree.
	ErrUnknownBlock = errors.New("unknown block")

	// ErrNotIndexed: the block is known but its data has not been indexed
	// (it is above the block tip, or on a side fork that was never
	// connected), so queries as of it cannot be answered yet.
	ErrNotIndexed = errors.New("block not indexed")

	// ErrInvalidAddress: an address string could not be decoded for the
	// index's network.
	ErrInvalidAddress = errors.New("invalid address")

	// ErrClosed: the index was closed.
	ErrClosed = errors.New("index closed")

	// ErrFormat: the database was written in another on-disk format
	// (an older version of the index); it must be deleted and rebuilt.
	ErrFormat = errors.New("index database format")

	// ErrCorrupt: a stored value could not be decoded. It means the
	// database was damaged or written by an incompatible version.
	ErrCorrupt = errors.New("corrupt index database")
)
