package postgres

import (
	"hash/fnv"
	"sync"
	"time"
)

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
// cache. One through another node is seen by a transaction taking entries
// on trust, which checks the version of each name's row too
// (sqlNamesCached); a transaction locking first, which cannot, reads again
// an entry whose names are older than cacheTTL.
type convCache struct {
	mu sync.Mutex
	// m holds each conversation as a committed transaction left it, its
	// xmin the row version that transaction left.
	m map[string]*lockedConv
	// gen counts clears: what was read before one is not put after it.
	gen uint64
	now func() time.Time
}

const (
	cacheTTL = 5 * time.Second
	// cacheMax bounds the entries; past it, the expired go, and if that is
	// not enough, all.
	cacheMax = 50_000
)

func newConvCache() *convCache { return &convCache{m: map[string]*lockedConv{}, now: time.Now} }

// take removes and returns id's entry, and whether its names are younger
// than its age limit: a transaction that takes one owns it, and puts it
// back only if it commits.
func (c *convCache) take(id string, now time.Time) (*lockedConv, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lc := c.m[id]
	if lc == nil {
		return nil, false
	}
	delete(c.m, id)
	return lc, now.Sub(lc.readAt) < ttl(id)
}

// ttl is id's age limit, between half of cacheTTL and all of it: entries
// read together (a desk's first messages after a restart) then expire
// spread out rather than in one wave of full reads.
func ttl(id string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(id))
	return cacheTTL/2 + time.Duration(h.Sum32()%1024)*(cacheTTL/2)/1024
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
		now := c.now()
		for k, e := range c.m {
			if now.Sub(e.readAt) >= ttl(k) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= cacheMax {
			clear(c.m)
		}
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
