package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Update runs fn in one READ COMMITTED transaction and commits if fn
// returns nil. Writers to one conversation serialise on its row, locked by
// ConversationForUpdate; writers to different conversations run in
// parallel. fn's own error is returned as it is.
//
// Inside, writes whose answer is known in advance are not waited for but
// sent with the next statement that needs an answer, and savepoints are
// set only when something needs undoing (see pipe, tx.deferrable and
// tx.Savepoint): a message costs two round trips, not ten.
//
// A batch takes the conversations the node's cache holds on trust and has
// them checked with its writes (see tx.speculateOn). If that transaction
// fails, for whatever reason, fn is run once more in a new one that reads
// everything under the lock, and that one's outcome is returned: fn must
// be safe to run again, as the writer's batches are.
func (db *DB) Update(ctx context.Context, fn func(tx desk.ConversationTx) error) error {
	err := db.update(ctx, fn, !db.noSpeculation)
	if errors.Is(err, errSpeculated) && ctx.Err() == nil {
		db.reruns.Add(1)
		err = db.update(ctx, fn, false)
	}
	return err
}

// Reruns is how many batches this DB ran again after taking a
// conversation on trust that was written since (see Update).
func (db *DB) Reruns() int64 { return db.reruns.Load() }

// errSpeculated marks the failure of a transaction that took conversations
// on trust: it is run again without.
var errSpeculated = errors.New("speculative transaction failed")

func (db *DB) update(ctx context.Context, fn func(tx desk.ConversationTx) error, speculate bool) error {
	t, err := db.pool.Begin(ctx)
	if err != nil {
		return dbError(err, "begin transaction")
	}
	// A no-op after Commit. With ctx already done it fails, and pgx then
	// discards the connection rather than pool it mid-transaction.
	defer t.Rollback(ctx)
	x := &tx{t: &pipe{t: t}, cache: db.convs, speculate: speculate}
	x.reader = reader{q: x.t}
	err = fn(x)
	if err == nil {
		x.touchWritten()
		err = x.finish(ctx)
	}
	if err != nil {
		if x.speculated {
			return fmt.Errorf("%w: %w", errSpeculated, err)
		}
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return dbError(err, "commit")
	}
	x.remember()
	return nil
}

// finish sends what is queued. A transaction that took its conversations
// on trust may not have read its own id yet (see speculateOn): it asks for it
// in the same round trip, for remember.
func (x *tx) finish(ctx context.Context) error {
	if !x.speculated || x.xid != "" || len(x.rowWritten) == 0 {
		return x.t.flush(ctx)
	}
	br := x.t.send(ctx, true, stmt{sqlXID, nil})
	defer br.Close()
	if err := x.t.drain(br); err != nil {
		return err
	}
	if err := br.QueryRow().Scan(&x.xid); err != nil {
		return x.t.fail(dbError(err, "read transaction id"))
	}
	return nil
}

// tx is one Update's transaction.
type tx struct {
	reader
	t *pipe
	// locked holds what this transaction knows of the conversations whose
	// rows it locked: nobody else can add their events meanwhile.
	locked map[string]*lockState
	// Read beside a conversation's lock, for the caller's next question
	// (see ConversationForUpdate); each is answered once, then read again.
	parts  map[string][]desk.Participant
	clocks map[string][]desk.SLAClock
	// want is the client id the next ConversationForUpdate looks up
	// beside the lock (see LookUpWithLock).
	want *clientLookup
	// ahead holds conversations locked and read by LockAhead, for their
	// first ConversationForUpdate; a write to one drops it (see unread).
	ahead map[string]*lockedConv
	// held holds the conversations locked here since the last rollback,
	// as this transaction wrote them: a second command on one in the same
	// batch loads it from here. A write it cannot mirror drops it.
	held map[string]*lockedConv
	// cache is the node's conversations across transactions (see
	// convCache); xid is this transaction's id, read with its first lock,
	// which is the xmin of every row it writes outside savepoints.
	cache *convCache
	xid   string
	// rowWritten are the conversations whose row this transaction wrote
	// (since the last rollback); satWritten those whose participants,
	// clocks or events it wrote. names: it wrote an employee.
	rowWritten, satWritten map[string]bool
	names                  bool
	// speculate: this transaction may take a batch's conversations from
	// the cache without reading them first; speculated: it did (see
	// speculateOn).
	speculate, speculated bool
}

// clientLookup is one client id to look up in a conversation.
type clientLookup struct {
	conversationID string
	key            clientKey
}

// lockState is what a transaction knows of one locked conversation's
// events, so it can tell that an insert cannot conflict without asking.
type lockState struct {
	maxSeq int64 // no stored event has a seq above it
	// none: the conversation had no events when locked, so no client id
	// is taken but those in ids.
	none bool
	ids  map[clientKey]bool // client ids known taken (true) or free (false)
	// found are the events read for client ids taken before the lock.
	found map[clientKey]desk.ConvEvent
	// recent are the last events written while locked, here or by the
	// transactions this node's cache carried it from: seq, type, actor
	// and privacy, not data (see KnownEvents).
	recent []eventKind
}

// eventKind is what lockState.recent keeps of an event: what a reply asks
// of those it missed, small enough to keep for every cached conversation.
type eventKind struct {
	seq     int64
	typ     desk.EventType
	actor   desk.Principal
	private bool
}

// recentMax bounds lockState.recent: enough for what a reply must know
// of the events since its sender last read (the other side's message and
// receipt, typically), little enough for every cached conversation.
const recentMax = 8

// clientKey is what events_client_msg makes unique within a conversation.
type clientKey struct{ role, id, clientMsgID string }

func (l *lockState) free(k clientKey) bool {
	taken, known := l.ids[k]
	return !taken && (known || l.none)
}

// carried is what of l a later transaction may trust: what is known of
// client ids grows with every message, so only whether none is taken is
// kept.
func (l *lockState) carried() *lockState {
	none := l.none
	for _, taken := range l.ids {
		none = none && !taken
	}
	return &lockState{maxSeq: l.maxSeq, none: none, recent: slices.Clone(l.recent)}
}

func (l *lockState) note(k clientKey, taken bool) {
	if l.ids == nil {
		l.ids = map[clientKey]bool{}
	}
	l.ids[k] = taken
}

// forget drops everything the transaction knew: after a rollback to a
// savepoint, locks taken inside it are released and rows read may have
// changed. What LockAhead read stays: its locks were taken outside every
// savepoint, and nothing written since to what it read (see unread) is
// left to roll back.
func (x *tx) forget() {
	x.locked, x.parts, x.clocks, x.want, x.held, x.rowWritten = nil, nil, nil, nil, nil, nil
}

// wrote notes a write to a conversation's row (row) or to what hangs off
// it.
func (x *tx) wrote(conversationID string, row bool) {
	m := &x.satWritten
	if row {
		m = &x.rowWritten
	}
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[conversationID] = true
}

// touchWritten writes the row of every conversation whose participants,
// clocks or events this transaction wrote without writing the row (the
// domain's writes always write both today): the row's version is what
// tells every node's convCache that the conversation changed.
func (x *tx) touchWritten() {
	for id := range x.satWritten {
		if !x.rowWritten[id] {
			x.t.enqueue(queued{sql: `UPDATE conversations SET id = id WHERE id = $1`, args: []any{id}, doing: "touch conversation"})
		}
	}
}

// remember hands the node's cache, once committed, what this transaction
// knows of the conversations it locked: as it wrote them (held), keyed by
// its own id where it wrote the row, or as it read them (ahead, unused).
func (x *tx) remember() {
	if x.names {
		x.cache.clear()
		return
	}
	if x.xid == "" && len(x.rowWritten) > 0 {
		// Nothing locked to key written rows by (a transaction that only
		// created conversations holds none).
		return
	}
	for id, r := range x.ahead {
		r.lock = r.lock.carried()
		x.cache.put(id, r)
	}
	for id, r := range x.held {
		if x.rowWritten[id] {
			if x.t.everSet {
				// The row's xmin may be a savepoint's: a version this
				// node would not recognise, costing a second round trip.
				continue
			}
			r.xmin = x.xid
		}
		r.lock = r.lock.carried()
		x.cache.put(id, r)
	}
}

// unread drops what LockAhead read of a conversation this transaction is
// about to write to.
func (x *tx) unread(conversationID string) { delete(x.ahead, conversationID) }

func (x *tx) lock(id string, l *lockState) {
	if x.locked == nil {
		x.locked = map[string]*lockState{}
	}
	x.locked[id] = l
}

// The statements that lock conversations and read beside them: the lock
// (in one order, so two transactions locking several cannot deadlock each
// other), which returns each row with its version (xmin: the transaction
// that wrote it), then in one statement what a writer asks next of each
// (participants, service-level clocks, the highest event seq, the last
// events' kinds (see KnownEvents) and the events stored with the client
// ids asked for). A participant's row carries the version of the agent or
// employee row its name comes from (in u, empty when there is none), which
// tells a cached name still current (sqlNamesCached). Being a statement of
// its own, the read runs once the locks are granted and sees what their
// previous holders committed. $1 of the read is the conversations not
// cached (see convCache); $2–$5 are the client ids to look up:
// conversation, role, actor and client id, side by side; an empty client
// id is none, as in EventByClientMsgID. (Variables only because the read's
// LIMIT is recentMax.)
var (
	sqlForUpdate  = `SELECT ` + convColumns + `, xmin::text FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE`
	sqlBesideLock = `
		SELECT * FROM (
			SELECT p.conversation_id AS id, 'p' AS k, p.role AS a, p.user_id AS b, COALESCE(nm.name, '') AS c,
				p.last_read_seq AS n, p.joined_at AS t, p.active AS f, COALESCE(nm.v, '') AS u, '' AS m
			FROM unnest($1::text[]) AS i(id) CROSS JOIN LATERAL (SELECT * FROM participants p WHERE p.conversation_id = i.id OFFSET 0) p
			LEFT JOIN LATERAL (
				SELECT a.name, a.xmin::text AS v FROM agents a WHERE p.role = 'agent' AND a.id = p.user_id
				UNION ALL
				SELECT e.name, e.xmin::text FROM employees e WHERE p.role = 'employee' AND e.id = p.user_id
				LIMIT 1
			) nm ON true
			UNION ALL
			SELECT s.conversation_id, 'c', s.kind, s.clock, '', 0, s.due_at, false, '', ''
			FROM unnest($1::text[]) AS i(id) CROSS JOIN LATERAL (SELECT * FROM sla_clocks s WHERE s.conversation_id = i.id OFFSET 0) s
			UNION ALL
			SELECT i.id, 'm', '', '', '', (SELECT max(seq) FROM events e WHERE e.conversation_id = i.id), NULL, false, '', ''
			FROM unnest($1::text[]) AS i(id)
			UNION ALL
			SELECT e.conversation_id, 'r', e.type, e.actor_role, '', e.seq, NULL, e.private, e.actor_id, ''
			FROM unnest($1::text[]) AS i(id) CROSS JOIN LATERAL (
				SELECT * FROM events e WHERE e.conversation_id = i.id ORDER BY e.seq DESC LIMIT ` + strconv.Itoa(recentMax) + `
			) e
			UNION ALL
			` + besideClientIDs + `
		) beside
		ORDER BY id, k, t, a, b COLLATE "C"`
	besideClientIDs = `
			SELECT e.conversation_id, 'e', e.type, e.actor_role, e.data::text, e.seq, e.created_at, e.private, e.actor_id, e.client_msg_id
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS w(id, role, actor, cmid)
			CROSS JOIN LATERAL (
				SELECT * FROM events e
				WHERE e.conversation_id = w.id AND e.actor_role = w.role AND e.actor_id = w.actor
				  AND e.client_msg_id = w.cmid AND e.client_msg_id <> ''
				LIMIT 1
			) e`
)

// sqlClientIDs is the read beside the lock when every conversation is
// cached: the client ids alone, without the union and its sort.
var sqlClientIDs = strings.NewReplacer("$2", "$1", "$3", "$2", "$4", "$3", "$5", "$4").Replace(besideClientIDs)

// The two statements above, and sqlLockCached, run with generic plans:
// PostgreSQL otherwise kept planning them afresh for each batch's number
// of conversations (a fifth to half of their executions, 0.5 ms each), and
// written with lateral joins their generic plans are as good
// (pg_stat_statements at 4,000 messages/s: 0.054 – 0.097 ms per message
// for the read, planning included, against 0.125; sqlLockCached's custom
// plans cost 0.029 ms a batch). Only they: the rest of the transaction
// keeps the server's choice.
const (
	sqlGenericPlans = `SET LOCAL plan_cache_mode = force_generic_plan`
	sqlDefaultPlans = `SET LOCAL plan_cache_mode TO DEFAULT`
)

// lockedConv is one conversation as locked and read by lockAndRead (in
// x.ahead, for its first ConversationForUpdate), then as this transaction
// wrote it (in x.held).
type lockedConv struct {
	c      desk.Conversation
	parts  []desk.Participant
	clocks []desk.SLAClock
	lock   *lockState
	xmin   string // the row's version: when locked, then as committed
	gen    uint64 // the cache's generation when parts and clocks were read
	// names holds, for each of parts, the version of the agent or
	// employee row its name was read from.
	names []nameVersion
}

// nameVersion is the version (xmin, empty for no row) of the row a
// participant's name was read from.
type nameVersion struct{ role, id, v string }

// checkable reports whether every participant's name has its version, so
// that sqlNamesCached can tell whether it is still current.
func (lc *lockedConv) checkable() bool { return len(lc.names) == len(lc.parts) }

// LookUpWithLock asks the next ConversationForUpdate of conversationID to
// look up, in the same round trip, the event actor stored with
// clientMsgID: EventByClientMsgID then answers from it, and a message
// costs one round trip before its writes instead of two. Any other
// ConversationForUpdate drops the request.
func (x *tx) LookUpWithLock(conversationID string, actor desk.Principal, clientMsgID string) {
	x.want = nil
	if clientMsgID != "" {
		x.want = &clientLookup{conversationID, clientKey{string(actor.Role), actor.ID, clientMsgID}}
	}
}

// LockAhead locks the conversations a batch's commands will load, and
// reads beside them what each load reads, in one round trip for the whole
// batch: each command's ConversationForUpdate then answers from it, and
// with the writes queued (see pipe) a batch of messages costs two round
// trips instead of one per message and two.
//
// The locks are taken outside any savepoint, so a command rolled back
// keeps them. What was read for a conversation stays true until this
// transaction writes to it (nobody else can while it is locked): a write
// to it, or to the employees that name participants, drops it unused.
// Values PostgreSQL would refuse are left out, for their command to meet
// alone.
func (x *tx) LockAhead(ctx context.Context, hints []desk.LockHint) error {
	if x.t.failed != nil {
		return x.t.failed
	}
	if x.t.depth() > 0 {
		return nil // a rollback would release the locks
	}
	var ids []string
	var wants []clientLookup
	seen := map[string]bool{}
	for _, h := range hints {
		id := h.ConversationID
		if !plain(id) || x.locked[id] != nil || x.ahead[id] != nil {
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		if h.ClientMsgID != "" && plain(string(h.Actor.Role), h.Actor.ID, h.ClientMsgID) {
			wants = append(wants, clientLookup{id, clientKey{string(h.Actor.Role), h.Actor.ID, h.ClientMsgID}})
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return x.lockAndRead(ctx, ids, wants, x.speculate)
}

// lockAndRead locks the conversations ids, reads beside them, and keeps
// what it read in x.ahead; a conversation that does not exist is left out.
// For a conversation the node's cache holds, only the row is read: if it
// is the version the cache was left with, and so are its participants'
// agent and employee rows (sqlNamesCached, in the same round trip), the
// participants, clocks and seqs are the cache's; if not, they are read in
// a second round trip.
// With trust, the conversations the cache holds are not read at all (see
// speculateOn).
func (x *tx) lockAndRead(ctx context.Context, ids []string, wants []clientLookup, trust bool) error {
	gen := x.cache.generation()
	cached := map[string]*lockedConv{}
	read := make([]string, 0, len(ids)) // those read beside the lock
	for _, id := range ids {
		if e := x.cache.take(id); e != nil && e.checkable() {
			cached[id] = e
		} else {
			read = append(read, id)
		}
	}
	if trust && len(cached) > 0 {
		// The cached are taken on trust; only the rest are read now.
		trusted := make([]string, 0, len(cached))
		for _, id := range ids {
			if cached[id] != nil {
				trusted = append(trusted, id)
			}
		}
		x.speculateOn(trusted, cached, wants)
		if len(read) == 0 {
			return nil
		}
		wants = slices.DeleteFunc(slices.Clone(wants), func(w clientLookup) bool { return cached[w.conversationID] != nil })
		ids, cached = read, nil
	}
	safe := plain(ids...)
	wc, wr, wu, wm := make([]string, 0, len(wants)), make([]string, 0, len(wants)), make([]string, 0, len(wants)), make([]string, 0, len(wants))
	for _, w := range wants {
		wc, wr, wu, wm = append(wc, w.conversationID), append(wr, w.key.role), append(wu, w.key.id), append(wm, w.key.clientMsgID)
		safe = safe && plain(w.conversationID, w.key.role, w.key.id, w.key.clientMsgID)
	}
	beside := stmt{sqlBesideLock, []any{read, wc, wr, wu, wm}}
	if len(read) == 0 {
		beside = stmt{sqlClientIDs, []any{wc, wr, wu, wm}}
	}
	stmts := []stmt{{sqlGenericPlans, nil}, {sqlForUpdate, []any{ids}}, beside}
	// The names of those cached are checked after the lock, as the rows.
	roles, people, versions := namesOf(cached)
	if len(people) > 0 {
		stmts = append(stmts, stmt{sqlNamesCached, []any{roles, people, versions}})
	}
	stmts = append(stmts, stmt{sqlDefaultPlans, nil})
	if x.xid == "" {
		stmts = append(stmts, stmt{sqlXID, nil})
	}
	br := x.t.send(ctx, safe, stmts...)
	defer br.Close()
	if err := x.t.drain(br); err != nil {
		return err
	}
	if _, err := br.Exec(); err != nil {
		return dbError(err, "read conversation")
	}
	rows, err := br.Query()
	if err != nil {
		return dbError(err, "read conversation")
	}
	got := make(map[string]*lockedConv, len(ids))
	for rows.Next() {
		var xmin string
		c, err := scanConversation(rows, &xmin)
		if err != nil {
			rows.Close()
			return dbError(err, "read conversation")
		}
		got[c.ID] = &lockedConv{c: c, parts: []desk.Participant{}, clocks: []desk.SLAClock{}, lock: &lockState{}, xmin: xmin, gen: gen}
	}
	if err := rows.Err(); err != nil {
		return dbError(err, "read conversation")
	}
	found, err := scanBeside(br, got)
	if err != nil {
		return err
	}
	var renamed map[desk.Principal]bool
	if len(people) > 0 {
		renamed = map[desk.Principal]bool{}
		rows, err := br.Query()
		if err != nil {
			return dbError(err, "check cached names")
		}
		for rows.Next() {
			var p desk.Principal
			if err := rows.Scan(&p.Role, &p.ID); err != nil {
				rows.Close()
				return dbError(err, "check cached names")
			}
			renamed[p] = true
		}
		if err := rows.Err(); err != nil {
			return dbError(err, "check cached names")
		}
	}
	if _, err := br.Exec(); err != nil {
		return dbError(err, "read conversation")
	}
	if x.xid == "" {
		if err := br.QueryRow().Scan(&x.xid); err != nil {
			return dbError(err, "read transaction id")
		}
	}
	var stale []string
	for id, e := range cached {
		r := got[id]
		switch {
		case r == nil:
		case r.xmin == e.xmin && !slices.ContainsFunc(e.names, func(n nameVersion) bool { return renamed[desk.Principal{Role: desk.Role(n.role), ID: n.id}] }):
			r.parts, r.clocks, r.lock, r.gen, r.names = e.parts, e.clocks, e.lock, e.gen, e.names
		default:
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		// Written or renamed by someone else since: read as if not cached.
		if err := br.Close(); err != nil {
			return dbError(err, "read conversation")
		}
		br := x.t.send(ctx, true, stmt{sqlGenericPlans, nil},
			stmt{sqlBesideLock, []any{stale, []string{}, []string{}, []string{}, []string{}}}, stmt{sqlDefaultPlans, nil})
		defer br.Close()
		if err := x.t.drain(br); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return dbError(err, "read participants")
		}
		if _, err := scanBeside(br, got); err != nil {
			return err
		}
	}
	for _, f := range found {
		if r := got[f.ConversationID]; r != nil {
			k := clientKey{string(f.Actor.Role), f.Actor.ID, f.ClientMsgID}
			r.lock.note(k, true)
			if r.lock.found == nil {
				r.lock.found = map[clientKey]desk.ConvEvent{}
			}
			r.lock.found[k] = f
		}
	}
	for _, w := range wants {
		if r := got[w.conversationID]; r != nil {
			if _, found := r.lock.found[w.key]; !found {
				r.lock.note(w.key, false)
			}
		}
	}
	x.keepAhead(got)
	return nil
}

// keepAhead keeps conversations locked or taken for the batch, for their
// first ConversationForUpdate.
func (x *tx) keepAhead(m map[string]*lockedConv) {
	if x.ahead == nil {
		x.ahead = make(map[string]*lockedConv, len(m))
	}
	maps.Copy(x.ahead, m)
}

// speculateOn takes the conversations ids as the cache holds them, without
// a round trip: their lock, and the check that each row is still the
// version the cache was left with, are queued to go out ahead of the
// batch's writes (sqlLockCached). Client ids looked up are taken to be
// free: a retry's insert then fails on the unique index. Either failure,
// or any other, fails the whole transaction (pipe.strict), and Update runs
// the batch again, reading under the lock; so does a deadlock with
// another node's locks, which the statement takes in the same order as
// sqlForUpdate but after locks taken earlier in the transaction.
//
// What is trusted is what the lock would have confirmed: the participants,
// clocks and seqs of a row nobody wrote since. The one thing the lock
// cannot confirm, that a client id is free, the unique index does; the
// participants' names, which live outside the row, sqlNamesCached checks.
func (x *tx) speculateOn(ids []string, cached map[string]*lockedConv, wants []clientLookup) {
	xmins := make([]string, len(ids))
	for i, id := range ids {
		xmins[i] = cached[id].xmin
	}
	n := int64(len(ids))
	x.t.enqueue(queued{sql: sqlGenericPlans, doing: "plan generically"})
	x.t.enqueue(queued{sql: sqlLockCached, args: []any{ids, xmins}, doing: "lock cached conversations",
		check: func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() != n {
				return errStale
			}
			return nil
		}})
	if roles, people, versions := namesOf(cached); len(people) > 0 {
		x.t.enqueue(queued{sql: sqlNamesCached, args: []any{roles, people, versions}, doing: "check cached names",
			check: func(tag pgconn.CommandTag) error {
				if tag.RowsAffected() != 0 {
					return errStale
				}
				return nil
			}})
	}
	x.t.enqueue(queued{sql: sqlDefaultPlans, doing: "plan by default"})
	for _, w := range wants {
		if r := cached[w.conversationID]; r != nil {
			r.lock.note(w.key, false)
		}
	}
	x.keepAhead(cached)
	x.speculated, x.t.strict = true, true
}

// sqlLockCached locks conversations taken from the cache and returns those
// still at the cached version: $1 the ids, $2 their xmins, side by side.
// A row written meanwhile is re-checked once its writer commits, and left
// out.
const sqlLockCached = `SELECT c.id FROM conversations c
	JOIN unnest($1::text[], $2::text[]) AS w(id, xmin) ON c.id = w.id
	WHERE c.xmin = w.xmin::xid
	ORDER BY c.id FOR UPDATE OF c`

// sqlNamesCached returns the participants taken from the cache whose
// name's row is no longer the version read: $1 – $3 their roles, ids and
// versions, side by side. Names live outside the conversation, so its
// row's version does not tell a rename through another node.
const sqlNamesCached = `SELECT w.role, w.id FROM unnest($1::text[], $2::text[], $3::text[]) AS w(role, id, v)
	WHERE w.v <> COALESCE(
		(SELECT a.xmin::text FROM agents a WHERE w.role = 'agent' AND a.id = w.id),
		(SELECT e.xmin::text FROM employees e WHERE w.role = 'employee' AND e.id = w.id), '')`

// namesOf lists, once each, the name versions of the cached
// conversations, side by side for sqlNamesCached.
func namesOf(cached map[string]*lockedConv) (roles, people, versions []string) {
	seen := map[nameVersion]bool{}
	for _, lc := range cached {
		for _, n := range lc.names {
			if !seen[n] {
				seen[n] = true
				roles, people, versions = append(roles, n.role), append(people, n.id), append(versions, n.v)
			}
		}
	}
	return roles, people, versions
}

// errStale is a conversation taken from the cache found written since.
var errStale = errors.New("a cached conversation was written since")

// sqlXID reads the transaction's id, which the rows it writes carry as
// their xmin.
const sqlXID = `SELECT pg_current_xact_id()::xid::text`

// scanBeside reads sqlBesideLock's rows into the conversations read: their
// participants, clocks and highest seq. It returns the events found for
// the client ids asked for.
func scanBeside(br pgx.BatchResults, read map[string]*lockedConv) ([]desk.ConvEvent, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, dbError(err, "read participants")
	}
	defer rows.Close()
	var found []desk.ConvEvent
	for rows.Next() {
		var id, kind, a, b, c, u, m string
		var n *int64
		var t *time.Time
		var f bool
		if err := rows.Scan(&id, &kind, &a, &b, &c, &n, &t, &f, &u, &m); err != nil {
			return nil, dbError(err, "read participants")
		}
		r := read[id]
		if r == nil {
			continue
		}
		switch {
		case kind == "p":
			r.parts = append(r.parts, desk.Participant{Role: desk.Role(a), ID: b, Name: c, Active: f, LastReadSeq: *n, JoinedAt: t.UTC()})
			r.names = append(r.names, nameVersion{a, b, u})
		case kind == "c":
			r.clocks = append(r.clocks, desk.SLAClock{Kind: a, Data: []byte(b), DueAt: t})
		case kind == "e":
			found = append(found, desk.ConvEvent{
				ConversationID: id, Seq: *n, Type: desk.EventType(a), Data: []byte(c),
				Actor: desk.Principal{Role: desk.Role(b), ID: u}, Private: f, ClientMsgID: m, CreatedAt: t.UTC(),
			})
		case kind == "r":
			r.lock.recent = append(r.lock.recent, eventKind{*n, desk.EventType(a), desk.Principal{Role: desk.Role(b), ID: u}, f})
		case n == nil:
			r.lock.none = true
		default:
			r.lock.maxSeq = *n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "read participants")
	}
	for _, r := range read {
		slices.SortFunc(r.lock.recent, func(p, q eventKind) int { return cmp.Compare(p.seq, q.seq) })
	}
	return found, nil
}

// ConversationForUpdate reads a conversation and locks its row until the
// transaction ends: a second writer to it waits here, then reads what the
// first committed. Its participants, service-level clocks and highest
// event seq come back in the same round trip, or were read with the lock
// by LockAhead; Participants and SLAClocks answer from them, and
// AppendEvent and the saves need not wait for an answer they can foresee.
func (x *tx) ConversationForUpdate(ctx context.Context, id string) (desk.Conversation, error) {
	if x.t.failed != nil {
		return desk.Conversation{}, x.t.failed
	}
	var wants []clientLookup
	if w := x.want; w != nil && w.conversationID == id {
		wants = append(wants, *w)
	}
	x.want = nil
	r := x.held[id]
	if r == nil {
		r = x.ahead[id]
	}
	if r == nil {
		if err := x.lockAndRead(ctx, []string{id}, wants, false); err != nil {
			return desk.Conversation{}, err
		}
		if r = x.ahead[id]; r == nil {
			return desk.Conversation{}, desk.Errorf(desk.ENotFound, "conversation not found")
		}
	}
	delete(x.ahead, id)
	if x.held == nil {
		x.held = map[string]*lockedConv{}
	}
	x.held[id] = r
	x.lock(id, r.lock)
	if x.parts == nil {
		x.parts, x.clocks = map[string][]desk.Participant{}, map[string][]desk.SLAClock{}
	}
	// Copies: held changes as this transaction writes.
	x.parts[id], x.clocks[id] = slices.Clone(r.parts), slices.Clone(r.clocks)
	c := r.c
	c.Tags = slices.Clone(c.Tags)
	return c, nil
}

// Participants answers from what ConversationForUpdate read, once.
func (x *tx) Participants(ctx context.Context, conversationID string) ([]desk.Participant, error) {
	if parts, ok := x.parts[conversationID]; ok {
		delete(x.parts, conversationID)
		return parts, nil
	}
	return x.reader.Participants(ctx, conversationID)
}

// EventByClientMsgID answers for a locked conversation from what the
// transaction knows (looked up beside the lock, or appended here) and
// otherwise asks, remembering that the client id is taken or free:
// AppendEvent then knows whether it can conflict.
func (x *tx) EventByClientMsgID(ctx context.Context, conversationID string, actor desk.Principal, clientMsgID string) (desk.ConvEvent, error) {
	k := clientKey{string(actor.Role), actor.ID, clientMsgID}
	l := x.locked[conversationID]
	if l != nil && clientMsgID != "" {
		if ev, ok := l.found[k]; ok {
			return ev, nil
		}
		if l.free(k) {
			return desk.ConvEvent{}, desk.Errorf(desk.ENotFound, "event not found")
		}
	}
	ev, err := x.reader.EventByClientMsgID(ctx, conversationID, actor, clientMsgID)
	if l != nil && clientMsgID != "" {
		switch {
		case err == nil:
			l.note(k, true)
		case desk.ErrorCode(err) == desk.ENotFound:
			l.note(k, false)
		}
	}
	return ev, err
}

// CreateConversation inserts c. An existing id, or the employee's client id
// used again, is EConflict.
//
// Conflicts are found with ON CONFLICT DO NOTHING rather than caught as
// errors: in PostgreSQL a failed statement aborts the whole transaction,
// while the contract (and SQLite) lets the caller carry on after one.
func (x *tx) CreateConversation(ctx context.Context, c desk.Conversation) error {
	x.unread(c.ID)
	x.wrote(c.ID, true)
	tag, err := x.t.Exec(ctx, `
		INSERT INTO conversations (`+convColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT DO NOTHING`,
		c.ID, c.EmployeeID, c.Subject, c.Category, c.Status, c.AssigneeID, c.Seq,
		dbTime(c.CreatedAt), dbTime(c.UpdatedAt), dbTimePtr(c.QueuedAt), dbTimePtr(c.ResolvedAt), c.ClientMsgID,
		c.PublicSeq, c.BroadcastSeq, c.Ref, c.Priority, c.Type, encodeTags(c.Tags), c.TeamID)
	if err != nil {
		return dbError(err, "create conversation")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.EConflict, "conversation already exists")
	}
	// Inserted here, so locked by this transaction until it ends, and
	// without events: the foreign key refuses events of a conversation
	// that does not exist.
	x.lock(c.ID, &lockState{none: true})
	return nil
}

// NextNumber counts up the named counter in this transaction; the row
// lock orders concurrent writers.
func (x *tx) NextNumber(ctx context.Context, name string) (int64, error) {
	var n int64
	err := x.t.QueryRow(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`, name).Scan(&n)
	return n, dbError(err, "count "+name)
}

// SaveConversation writes c's mutable fields. A conversation this
// transaction locked is there to update, so the write is not waited for.
func (x *tx) SaveConversation(ctx context.Context, c desk.Conversation) error {
	x.unread(c.ID)
	x.wrote(c.ID, true)
	if h := x.held[c.ID]; h != nil {
		// What the UPDATE below sets, as it will read back.
		h.c.Status, h.c.AssigneeID, h.c.Seq, h.c.UpdatedAt = c.Status, c.AssigneeID, c.Seq, dbTime(c.UpdatedAt)
		h.c.QueuedAt, h.c.ResolvedAt, h.c.PublicSeq, h.c.BroadcastSeq = dbTimePtr(c.QueuedAt), dbTimePtr(c.ResolvedAt), c.PublicSeq, c.BroadcastSeq
		h.c.Priority, h.c.Type, h.c.Tags = c.Priority, c.Type, decodeTags(encodeTags(c.Tags))
	}
	sql := `
		UPDATE conversations
		SET status = $2, assignee_id = $3, seq = $4, updated_at = $5, queued_at = $6, resolved_at = $7,
			public_seq = $8, broadcast_seq = $9, priority = $10, kind = $11, tags = $12
		WHERE id = $1`
	tags := encodeTags(c.Tags)
	args := []any{c.ID, c.Status, c.AssigneeID, c.Seq, dbTime(c.UpdatedAt), dbTimePtr(c.QueuedAt), dbTimePtr(c.ResolvedAt),
		c.PublicSeq, c.BroadcastSeq, c.Priority, c.Type, tags}
	if x.locked[c.ID] != nil && plain(c.ID, string(c.Status), c.AssigneeID, c.Priority, c.Type, tags) {
		x.t.enqueue(queued{sql: sql, args: args, doing: "save conversation", check: updated})
		return nil
	}
	tag, err := x.t.Exec(ctx, sql, args...)
	if err != nil {
		return dbError(err, "save conversation")
	}
	return updated(tag)
}

// updated is SaveConversation's verdict on its UPDATE.
func updated(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.ENotFound, "conversation not found")
	}
	return nil
}

// SaveParticipant inserts p or updates its active flag and last-read seq;
// a participant's joined time is the first one, as in SQLite. For a
// conversation this transaction locked (the foreign key holds), it is not
// waited for.
func (x *tx) SaveParticipant(ctx context.Context, conversationID string, p desk.Participant) error {
	delete(x.parts, conversationID)
	x.unread(conversationID)
	x.wrote(conversationID, false)
	known := false // stored, as this transaction knows under the lock
	if h := x.held[conversationID]; h != nil {
		i := slices.IndexFunc(h.parts, func(q desk.Participant) bool { return q.Role == p.Role && q.ID == p.ID })
		if known = i >= 0; known {
			h.parts[i].Active, h.parts[i].LastReadSeq = p.Active, p.LastReadSeq
		} else {
			delete(x.held, conversationID) // a newcomer's name and place are read again
		}
	}
	if known && plain(conversationID, string(p.Role), p.ID) {
		// An UPDATE, not the upsert: PostgreSQL's upsert probes the index
		// twice. Not finding the row would mean the lock did not hold.
		x.t.enqueue(queued{sql: sqlUpdateParticipant, args: []any{conversationID, p.Role, p.ID, p.Active, p.LastReadSeq},
			doing: "save participant", check: participantUpdated})
		return nil
	}
	sql := `
		INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (conversation_id, role, user_id) DO UPDATE
		SET active = excluded.active, last_read_seq = excluded.last_read_seq`
	args := []any{conversationID, p.Role, p.ID, p.Active, p.LastReadSeq, dbTime(p.JoinedAt)}
	if x.locked[conversationID] != nil && plain(conversationID, string(p.Role), p.ID) {
		x.t.enqueue(queued{sql: sql, args: args, doing: "save participant"})
		return nil
	}
	_, err := x.t.Exec(ctx, sql, args...)
	return dbError(err, "save participant")
}

const sqlUpdateParticipant = `UPDATE participants SET active = $4, last_read_seq = $5
	WHERE conversation_id = $1 AND role = $2 AND user_id = $3`

func participantUpdated(tag pgconn.CommandTag) error {
	if tag.RowsAffected() != 1 {
		return desk.Errorf(desk.EInternal, "participant changed under the conversation's lock")
	}
	return nil
}

// AppendEvent stores ev; a taken seq or client id is EConflict (found
// without aborting the transaction, as in CreateConversation). When this
// transaction holds the conversation's lock and knows the seq and client
// id are free (deferrable), the insert is not waited for: it cannot
// conflict, and if it failed all the same, the call that sends it would
// say so and the transaction would fail (see Savepoint).
func (x *tx) AppendEvent(ctx context.Context, ev desk.ConvEvent) error {
	x.unread(ev.ConversationID)
	x.wrote(ev.ConversationID, false)
	args := []any{ev.ConversationID, ev.Seq, ev.Type, []byte(ev.Data), ev.Actor.Role, ev.Actor.ID,
		ev.Private, ev.ClientMsgID, dbTime(ev.CreatedAt)}
	if x.deferrable(ev) {
		// Without ON CONFLICT: should it conflict all the same, the server
		// stops the round trip there.
		x.t.enqueue(queued{sql: sqlAppendEvent, args: args, doing: "append event"})
		x.appended(ev)
		return nil
	}
	tag, err := x.t.Exec(ctx, sqlAppendEvent+` ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return dbError(err, "append event")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.EConflict, "event %d already stored", ev.Seq)
	}
	x.appended(ev)
	return nil
}

const sqlAppendEvent = `INSERT INTO events (` + eventColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// deferrable reports whether ev's insert is sure to succeed: its
// conversation is locked here (nobody else can add events to it), its seq
// is above every stored one, its client id is known free, and PostgreSQL
// will take its values.
func (x *tx) deferrable(ev desk.ConvEvent) bool {
	l := x.locked[ev.ConversationID]
	if l == nil || ev.Seq <= l.maxSeq {
		return false
	}
	if ev.ClientMsgID != "" && !l.free(clientKey{string(ev.Actor.Role), ev.Actor.ID, ev.ClientMsgID}) {
		return false
	}
	return ev.Data != nil && json.Valid(ev.Data) && utf8.Valid(ev.Data) &&
		plain(ev.ConversationID, string(ev.Type), string(ev.Actor.Role), ev.Actor.ID, ev.ClientMsgID)
}

// appended notes a stored (or queued) event's seq and client id.
func (x *tx) appended(ev desk.ConvEvent) {
	l := x.locked[ev.ConversationID]
	if l == nil {
		return
	}
	l.maxSeq = max(l.maxSeq, ev.Seq)
	if len(l.recent) == recentMax {
		l.recent = slices.Delete(l.recent, 0, 1)
	}
	l.recent = append(l.recent, eventKind{ev.Seq, ev.Type, ev.Actor, ev.Private})
	if ev.ClientMsgID != "" {
		l.note(clientKey{string(ev.Actor.Role), ev.Actor.ID, ev.ClientMsgID}, true)
	}
}

// KnownEvents answers Events for a conversation this transaction locked
// from what it knows without reading: the events after afterSeq, each
// with its seq, type, actor and privacy but not its data, when the last
// events written under the lock cover them all (ok), in the order and
// numbers Events would return. A reply asks what came since its sender
// last read (see conversation's onlyReceipts): usually the other side's
// message and receipt, written through this node, so no round trip.
func (x *tx) KnownEvents(conversationID string, afterSeq int64, limit int, includePrivate bool) (events []desk.ConvEvent, ok bool) {
	l := x.locked[conversationID]
	if l == nil {
		return nil, false
	}
	if afterSeq >= l.maxSeq {
		return nil, true
	}
	r := l.recent
	// Every seq from afterSeq+1 to maxSeq must be there: seqs written
	// under one lock follow on, and a gap is something not seen here.
	if len(r) == 0 || r[0].seq > afterSeq+1 || r[len(r)-1].seq != l.maxSeq {
		return nil, false
	}
	for i := 1; i < len(r); i++ {
		if r[i].seq != r[i-1].seq+1 {
			return nil, false
		}
	}
	for _, k := range r {
		if k.seq > afterSeq && (includePrivate || !k.private) {
			if limit > 0 && len(events) == limit {
				break
			}
			events = append(events, desk.ConvEvent{ConversationID: conversationID, Seq: k.seq, Type: k.typ, Actor: k.actor, Private: k.private})
		}
	}
	return events, true
}

// plain reports whether PostgreSQL's text takes every s: valid UTF-8
// without NUL.
func plain(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// SaveEmployee inserts or updates an employee's profile.
func (x *tx) SaveEmployee(ctx context.Context, e desk.Employee) error {
	_, err := x.t.Exec(ctx, `
		INSERT INTO employees (id, name, department, position, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, department = excluded.department,
			position = excluded.position, updated_at = excluded.updated_at`,
		e.ID, e.Name, e.Department, e.Position, dbTime(e.UpdatedAt))
	x.parts, x.ahead, x.held = nil, nil, nil // participants carry names
	x.names = true
	return dbError(err, "save employee")
}

// Savepoint runs fn inside a savepoint: if fn fails, its writes are rolled
// back and the transaction is usable again (PostgreSQL would otherwise
// refuse every later statement after a failed one).
//
// The savepoint is only set once fn sends something it might have to undo
// (see pipe). A command that read and queued writes, as a message does,
// never needs one: if it refuses, its queued writes are dropped unsent; if
// it succeeds, they go out with the next command's first round trip. Such
// a write failing all the same (it cannot, see deferrable) then fails the
// transaction rather than its command.
func (x *tx) Savepoint(ctx context.Context, fn func() error) error {
	p := x.t
	p.levels = append(p.levels, false)
	depth := p.depth()
	err := fn()
	set := p.levels[depth-1]
	p.levels = p.levels[:depth-1]
	if err == nil && p.failed == nil {
		if set {
			p.enqueue(queued{sql: "RELEASE SAVEPOINT sp", doing: "release savepoint"})
		}
		// What fn queued now belongs to the level around it.
		for i := range p.queue {
			p.queue[i].depth = min(p.queue[i].depth, depth-1)
		}
		return nil
	}
	failed := p.failed
	if failed != nil && (err == nil || p.failedDepth < depth) {
		if set && p.failedDepth >= depth {
			if rerr := x.rollbackTo(ctx, depth); rerr != nil {
				return rerr
			}
		}
		// Not fn's answer: the caller must not take it for one.
		return fmt.Errorf("savepoint: %w", failed)
	}
	if !set {
		// Nothing of fn's that needs undoing reached the server.
		x.forget()
		p.queue = slices.DeleteFunc(p.queue, func(q queued) bool { return q.depth >= depth })
		if p.aborted() {
			// A read failed for the transaction's own reasons (deadlock,
			// connection): nothing to roll back to.
			return fmt.Errorf("savepoint: %w", err)
		}
		return err
	}
	if rerr := x.rollbackTo(ctx, depth); rerr != nil {
		// Classified by rerr alone: fn's error may be a domain one, and
		// the caller must not mistake a broken transaction for it.
		return dbError(rerr, fmt.Sprintf("roll back to savepoint after %v", err))
	}
	return err
}

// rollbackTo undoes the savepoint at depth, which was set.
func (x *tx) rollbackTo(ctx context.Context, depth int) error {
	p := x.t
	x.forget()
	p.failed = nil
	// Everything queued before the savepoint went out with it.
	p.queue = slices.DeleteFunc(p.queue, func(q queued) bool { return q.depth >= depth })
	if !p.aborted() {
		// Nothing failed on the server (fn refused on what it read): the
		// rollback can wait for the next round trip.
		p.enqueue(queued{sql: "ROLLBACK TO SAVEPOINT sp", doing: "roll back to savepoint"})
		p.enqueue(queued{sql: "RELEASE SAVEPOINT sp", doing: "release savepoint"})
		return nil
	}
	// An aborted transaction takes nothing but the rollback, and pgx would
	// first prepare the statements of a batch: sent alone, as simple queries.
	if _, err := p.t.Exec(ctx, "ROLLBACK TO SAVEPOINT sp; RELEASE SAVEPOINT sp"); err != nil {
		p.fail(dbError(err, "roll back to savepoint"))
		return err
	}
	return nil
}
