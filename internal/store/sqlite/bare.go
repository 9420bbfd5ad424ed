package sqlite

import "database/sql"

// BareWriter is the write connection with nothing of the desk on it: the
// same file settings (WAL, synchronous NORMAL, in-memory temp store, no
// automatic checkpoint) and the same checkpointer beside it. It is for
// "loadtest dbfloor", which measures the bare statements a message needs
// against the desk's own writer; the desk writes through Update only.
func (db *DB) BareWriter() *sql.DB { return db.write }
