package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// maxCached bounds the conversations (and, apart, the participant lists)
// the write cache keeps: a few thousand in work at once is a busy desk,
// and an entry is a few hundred bytes.
const maxCached = 10000

// Counters of the write connection, read at the start of every write
// transaction and again before it commits. total_changes() counts the rows
// this connection changed, so a write on it outside Update (agents, tokens,
// anything through db.write) moves it; data_version moves when another
// connection or process committed.
const (
	qWriteCounters = `SELECT total_changes(), data_version FROM pragma_data_version`
	qTotalChanges  = `SELECT total_changes()`
)

// writeCache keeps the conversation rows, participant lists and
// service-level clocks that write transactions read and wrote, so that a
// command on a conversation the writer saw recently does not read them
// back: under load that was three of a message's statements.
//
// It is the committed state plus what the open transaction wrote, and is
// kept so by the transaction: SaveConversation, SaveParticipant and
// SaveSLAClock update what they wrote (as the statement does, column for
// column), a savepoint rolled back drops what was read or written in it,
// and a transaction that does not commit empties the cache. Any other
// write to conversations, participants, clocks or the names joined into
// them (agents, employees) must drop what it touches (forget,
// forgetEmployee) if it runs in Update; outside Update it is seen by the
// counters above, and the next transaction starts from an empty cache.
//
// Only one transaction uses it at a time: Update holds mu while its
// transaction is open (the write pool's single connection serialises them
// anyway).
type writeCache struct {
	mu     sync.Mutex
	convs  map[string]desk.Conversation
	parts  map[string][]desk.Participant
	clocks map[string][]desk.SLAClock // as qSLAClocks reads them
	// valid: changes and version are the counters as the last committed
	// transaction left them.
	valid            bool
	changes, version int64
}

func newWriteCache() *writeCache {
	return &writeCache{convs: map[string]desk.Conversation{}, parts: map[string][]desk.Participant{},
		clocks: map[string][]desk.SLAClock{}}
}

// reset empties the cache: after a transaction that did not commit, or a
// write that went past it.
func (c *writeCache) reset() {
	clear(c.convs)
	clear(c.parts)
	clear(c.clocks)
	c.valid = false
}

// begin checks, at the start of a write transaction, that nothing wrote
// since the last one committed, and empties the cache if something did. It
// returns the data version, for commit.
func (c *writeCache) begin(ctx context.Context, run *runner) (int64, error) {
	var changes, version int64
	if err := run.queryRow(ctx, qWriteCounters).Scan(&changes, &version); err != nil {
		return 0, dbError(err, "read write counters")
	}
	if !c.valid || changes != c.changes || version != c.version {
		c.reset()
	}
	return version, nil
}

// committed records the counters as a committed transaction left them,
// on its connection before anything else can write there. total_changes()
// is read after COMMIT because FTS5 writes its pending terms then.
func (c *writeCache) committed(ctx context.Context, conn *sql.Conn, version int64) {
	if err := conn.QueryRowContext(ctx, qTotalChanges).Scan(&c.changes); err != nil {
		c.reset() // the next transaction starts afresh
		return
	}
	c.version, c.valid = version, true
}

func (c *writeCache) conv(id string) (desk.Conversation, bool) {
	v, ok := c.convs[id]
	return copyConv(v), ok
}

func (c *writeCache) putConv(v desk.Conversation) {
	if _, ok := c.convs[v.ID]; !ok && len(c.convs) >= maxCached {
		for k := range c.convs { // any one: map order is random enough
			delete(c.convs, k)
			break
		}
	}
	c.convs[v.ID] = copyConv(v)
}

// saved mirrors qUpdateConversation on the cached row: the columns it
// sets, as they read back.
func (c *writeCache) saved(v desk.Conversation) {
	old, ok := c.convs[v.ID]
	if !ok {
		return
	}
	old.Status, old.AssigneeID, old.Seq = v.Status, v.AssigneeID, v.Seq
	old.UpdatedAt = fromMillis(millis(v.UpdatedAt))
	old.QueuedAt, old.ResolvedAt = roundTrip(v.QueuedAt), roundTrip(v.ResolvedAt)
	old.PublicSeq, old.BroadcastSeq = v.PublicSeq, v.BroadcastSeq
	old.Priority, old.Type = v.Priority, v.Type
	old.Tags = decodeTags(encodeTags(v.Tags))
	c.convs[v.ID] = old
}

func (c *writeCache) participants(id string) ([]desk.Participant, bool) {
	v, ok := c.parts[id]
	return slices.Clone(v), ok
}

func (c *writeCache) putParticipants(id string, ps []desk.Participant) {
	if _, ok := c.parts[id]; !ok && len(c.parts) >= maxCached {
		for k := range c.parts {
			delete(c.parts, k)
			break
		}
	}
	c.parts[id] = slices.Clone(ps)
}

// savedParticipant mirrors qUpsertParticipant: an existing participant
// gets the new active flag and read position (not a new join time); a new
// one drops the list, which is read again with the name and order the
// query gives it.
func (c *writeCache) savedParticipant(id string, p desk.Participant) {
	ps, ok := c.parts[id]
	if !ok {
		return
	}
	for i := range ps {
		if ps[i].Role == p.Role && ps[i].ID == p.ID {
			ps[i].Active, ps[i].LastReadSeq = p.Active, p.LastReadSeq
			return
		}
	}
	delete(c.parts, id)
}

// forget drops what the cache has of a conversation.
func (c *writeCache) forget(id string) {
	delete(c.convs, id)
	delete(c.parts, id)
	delete(c.clocks, id)
}

func (c *writeCache) slaClocks(id string) ([]desk.SLAClock, bool) {
	v, ok := c.clocks[id]
	return copyClocks(v), ok
}

func (c *writeCache) putClocks(id string, cs []desk.SLAClock) {
	if _, ok := c.clocks[id]; !ok && len(c.clocks) >= maxCached {
		for k := range c.clocks {
			delete(c.clocks, k)
			break
		}
	}
	c.clocks[id] = copyClocks(cs)
}

// savedClock mirrors qSaveSLAClock: an existing clock gets the new state
// and due time, as they read back (qSLAClocks reads neither its state nor
// breached); a new one drops the list, which is read again in the
// query's order.
func (c *writeCache) savedClock(id string, k desk.SLAClock) {
	cs, ok := c.clocks[id]
	if !ok {
		return
	}
	for i := range cs {
		if cs[i].Kind == k.Kind {
			cs[i].Data, cs[i].DueAt = []byte(string(k.Data)), roundTrip(k.DueAt)
			return
		}
	}
	delete(c.clocks, id)
}

// copyClocks copies clocks and what they share by reference.
func copyClocks(cs []desk.SLAClock) []desk.SLAClock {
	cs = slices.Clone(cs)
	for i := range cs {
		cs[i].Data, cs[i].DueAt = slices.Clone(cs[i].Data), roundTrip(cs[i].DueAt)
	}
	return cs
}

// forgetEmployee drops the participant lists that name the employee, whose
// name was written or deleted.
func (c *writeCache) forgetEmployee(id string) {
	for conv, ps := range c.parts {
		for _, p := range ps {
			if p.Role == desk.RoleEmployee && p.ID == id {
				delete(c.parts, conv)
				break
			}
		}
	}
}

// copyConv copies what a conversation shares by reference, so a caller
// changing its copy cannot change the cache's.
func copyConv(v desk.Conversation) desk.Conversation {
	v.Tags = slices.Clone(v.Tags) // an empty list stays non-nil, as decodeTags reads it
	v.QueuedAt, v.ResolvedAt = roundTrip(v.QueuedAt), roundTrip(v.ResolvedAt)
	return v
}

// roundTrip is a time as it reads back from its column, in a new variable.
func roundTrip(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := fromMillis(millis(*t))
	return &v
}
