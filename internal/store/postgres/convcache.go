package postgres

import "sync"

// convCache keeps, across transactions, what this node's writers last
// knew of the conversations they wrote: participants (with names),
// service-level clocks and what is known of the events' seqs and client
// ids. A transaction that locks a conversation uses it instead of reading
// them again when the locked row is the version the cached transaction
// left (its xmin): nobody, on this node or another, wrote the
// conversation since, because every transaction that writes a
// conversation's participants, clocks or events writes its row too (see
// tx.touchWritten). The row itself is always read fresh, with the lock.
//
// Names are the exception: they live in agents and employees, whose
// writes do not move conversations. A rename through this node clears the
// cache; one through another node is seen by the check of each name's row
// version that goes with every use of an entry (sqlNamesCached).
type convCache struct {
	mu sync.Mutex
	// m holds each conversation as a committed transaction left it, its
	// xmin the row version that transaction left.
	m map[string]*lockedConv
	// gen counts clears: what was read before one is not put after it.
	gen uint64
}

// cacheMax bounds the entries; past it, all go: a desk writing to more
// conversations than that at once gains little from keeping them.
const cacheMax = 50_000

func newConvCache() *convCache { return &convCache{m: map[string]*lockedConv{}} }

// take removes and returns id's entry, if any: a transaction that takes
// one owns it, and puts it back only if it commits.
func (c *convCache) take(id string) *lockedConv {
	c.mu.Lock()
	defer c.mu.Unlock()
	lc := c.m[id]
	delete(c.m, id)
	return lc
}

// generation is the number of clears so far; a transaction reading
// conversations notes it.
func (c *convCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps what a committed transaction left, unless names changed since
// it was read (lc.gen).
func (c *convCache) put(id string, lc *lockedConv) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lc.gen != c.gen {
		return
	}
	if len(c.m) >= cacheMax {
		clear(c.m)
	}
	c.m[id] = lc
}

// clear forgets everything: names changed.
func (c *convCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.gen++
}
