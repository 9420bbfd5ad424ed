package postgres

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Index stores a document's terms. The insert is not waited for when
// nothing in it can fail (no key but its own serial, no foreign key, text
// PostgreSQL takes and far below a tsvector's 1 MB).
func (x *tx) Index(ctx context.Context, conversationID string, seq int64, terms string) error {
	if strings.TrimSpace(terms) == "" {
		return nil
	}
	sql := `INSERT INTO search_docs (conversation_id, seq, terms) VALUES ($1, $2, to_tsvector('simple', $3))`
	if len(terms) <= maxQueuedTerms && plain(conversationID, terms) {
		x.t.enqueue(queued{sql: sql, args: []any{conversationID, seq, terms}, doing: "index"})
		return nil
	}
	_, err := x.t.Exec(ctx, sql, conversationID, seq, terms)
	return dbError(err, "index")
}

// maxQueuedTerms bounds the terms Index queues: a message's are a few
// KiB; a tsvector refuses more than 1 MB.
const maxQueuedTerms = 64 << 10

// searchWindow is how many of the newest documents Search reads one by one
// before it asks the index: a few milliseconds of checking, which finds a
// page of anything in one message of a thousand (邮箱 手机 收不到 at a
// million messages); with 5,000, such a query fell to the GIN index and
// took 60-110 ms. agentSearchWindow is the same for an agent too busy for their
// own conversations to be read whole (searchReadable), who reads a smaller
// share of each window.
const (
	searchWindow      = 20_000
	agentSearchWindow = 50_000
)

// defaultAgentDocsMax bounds how many documents an agent's conversations
// may hold for Search to read every one of them instead of the newest
// window and the GIN index. Reading and checking a document costs about
// 0.3 µs, so this is some 30 ms: less than one GIN search of a query whose
// characters are common.
const defaultAgentDocsMax = 100_000

// agentConversationsMax bounds the conversation ids an agent's search
// carries to the server; an agent with more (an old hand on a small desk)
// reads a large share of it and is served as an admin would be.
const agentConversationsMax = 10_000

// Search returns the newest matching documents. Terms are single
// characters, so a common word ("打印机") has every one of its characters
// in a large share of all messages: through the GIN index that means
// intersecting posting lists of hundreds of thousands of documents and
// checking positions, hundreds of milliseconds at a million messages, for
// matches that are almost always among the newest documents. So the
// newest window is read first, newest to oldest, each document checked
// (bounded work, and a common word fills the page there), and the index
// is asked only for what is older, which a rare word answers quickly.
//
// An agent is different: they may read a few percent of the desk, so
// their matches are rare among the newest documents whatever the words,
// and the GIN index then does the whole desk's work to keep a few. Their
// own conversations are few, so those are searched whole instead, through
// the conversation_id index, when they hold few enough documents.
func (db *DB) Search(ctx context.Context, q desk.SearchQuery) ([]desk.SearchHit, error) {
	if q.AgentID != "" {
		hits, done, err := db.searchReadable(ctx, q)
		if err != nil || done {
			return hits, err
		}
	}
	hi := q.BeforeID
	if hi <= 0 {
		if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM search_docs`).Scan(&hi); err != nil {
			return nil, dbError(err, "search")
		}
	}
	window := int64(searchWindow)
	if q.AgentID != "" {
		window = agentSearchWindow
	}
	lo := max(0, hi-window)
	first, err := db.search(ctx, q, lo, hi, q.Limit, true)
	if err != nil || len(first) == q.Limit || lo == 0 {
		return first, err
	}
	rest, err := db.search(ctx, q, 0, lo, q.Limit-len(first), false)
	return append(first, rest...), err
}

// searchReadable searches every document of the conversations the agent
// may read that pass q's filters; done is false, and nothing was
// searched, when those hold too many documents to read one by one.
func (db *DB) searchReadable(ctx context.Context, q desk.SearchQuery) (hits []desk.SearchHit, done bool, err error) {
	docsMax := db.agentDocsMax
	if docsMax == 0 {
		docsMax = defaultAgentDocsMax
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	agent := arg(q.AgentID)
	// The two participant indexes are partial (active, not active), so
	// each half is asked on its own; a plain "role and user" condition
	// would read every participant.
	where := append([]string{`c.id IN (
		SELECT conversation_id FROM participants WHERE role = 'agent' AND user_id = ` + agent + ` AND active
		UNION ALL SELECT conversation_id FROM participants WHERE role = 'agent' AND user_id = ` + agent + ` AND NOT active
		UNION ALL SELECT id FROM conversations WHERE status = 'queued')`}, conversationFilters(q, arg)...)
	idsSQL := `SELECT c.id FROM conversations c WHERE ` + strings.Join(where, " AND ") +
		` LIMIT ` + strconv.Itoa(agentConversationsMax+1)
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, idsSQL, args...)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) > agentConversationsMax {
			return err
		}
		if len(ids) == 0 {
			done = true
			return nil
		}
		// Only the conversation_id index, whatever the statistics say (a
		// table just filled has none, and then "conversation_id = ANY"
		// looks like every row): the planner would AND the GIN bitmap in,
		// the whole desk's work again; walk the primary key newest first,
		// hoping to meet the agent's matches soon; or read the table.
		// "id + 0" leaves the primary key nothing to serve, and without
		// seq and bitmap scans the conversation_id index is all there is.
		// JIT would compile for longer than the search runs.
		for _, setting := range []string{`SET LOCAL enable_bitmapscan = off`, `SET LOCAL enable_seqscan = off`, `SET LOCAL jit = off`} {
			if _, err := tx.Exec(ctx, setting); err != nil {
				return err
			}
		}
		var docs int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT FROM search_docs
			WHERE conversation_id = ANY($1::text[]) LIMIT $2) d`, ids, docsMax+1).Scan(&docs); err != nil {
			return err
		}
		if docs > docsMax {
			return nil
		}
		before := int64(math.MaxInt64)
		if q.BeforeID > 0 {
			before = q.BeforeID
		}
		// The query is parsed in a subquery, once: in the generic plan a
		// prepared statement gets after five runs, to_tsquery of a
		// parameter is not folded and would parse it again for every
		// document read.
		rows, err = tx.Query(ctx, `SELECT id, conversation_id, seq FROM search_docs
			WHERE conversation_id = ANY($1::text[]) AND terms @@ (SELECT to_tsquery('simple', $2)) AND id + 0 < $3
			ORDER BY id + 0 DESC LIMIT $4`, ids, q.TS, before, q.Limit)
		if err != nil {
			return err
		}
		hits, err = pgx.CollectRows(rows, scanHit)
		done = err == nil
		return err
	})
	return hits, done, dbError(err, "search")
}

// conversationFilters are q's conditions on the conversation c, but for
// who may read it.
func conversationFilters(q desk.SearchQuery, arg func(any) string) []string {
	var where []string
	if len(q.Statuses) > 0 {
		sts := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			sts[i] = string(s)
		}
		where = append(where, "c.status = ANY("+arg(sts)+"::text[])")
	}
	for col, v := range map[string]string{"c.category": q.Category, "c.priority": q.Priority, "c.assignee_id": q.AssigneeID} {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	if q.Tag != "" {
		where = append(where, "c.tags::jsonb ? "+arg(q.Tag))
	}
	if !q.From.IsZero() {
		where = append(where, "c.created_at >= "+arg(dbTime(q.From)))
	}
	if !q.To.IsZero() {
		where = append(where, "c.created_at < "+arg(dbTime(q.To)))
	}
	return where
}

func scanHit(r pgx.CollectableRow) (desk.SearchHit, error) {
	var h desk.SearchHit
	err := r.Scan(&h.DocID, &h.ConversationID, &h.Seq)
	return h, err
}

// search finds matches with ids in [lo, hi); walk reads the documents in
// id order instead of asking the GIN index.
func (db *DB) search(ctx context.Context, q desk.SearchQuery, lo, hi int64, limit int, walk bool) ([]desk.SearchHit, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var where []string
	if walk {
		// Parsed once, in a subquery, as in searchReadable: the walk
		// checks every document, and a generic plan would parse the query
		// for each.
		where = append(where, "d.terms @@ (SELECT to_tsquery('simple', "+arg(q.TS)+"))",
			"d.id < "+arg(hi), "d.id >= "+arg(lo))
	} else {
		where = append(where, "d.terms @@ to_tsquery('simple', "+arg(q.TS)+")")
		// "+ 0": a bound, not an index condition; ANDing the GIN bitmap
		// with a primary-key range of nearly every row would cost more
		// than the match itself.
		where = append(where, "(d.id + 0) < "+arg(hi))
	}
	where = append(where, conversationFilters(q, arg)...)
	if q.AgentID != "" {
		where = append(where, `(c.status = 'queued' OR EXISTS (SELECT 1 FROM participants p
			WHERE p.conversation_id = c.id AND p.role = 'agent' AND p.user_id = `+arg(q.AgentID)+`))`)
	}
	sql := `SELECT d.id, d.conversation_id, d.seq
		FROM search_docs d JOIN conversations c ON c.id = d.conversation_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY d.id DESC LIMIT ` + arg(limit)
	var out []desk.SearchHit
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// The planner guesses badly both ways: it would take the GIN bitmap
		// for the window (intersecting whole posting lists for a common
		// word) and walk the primary key for the rest (reading every older
		// document for a rare one). Each phase says which it wants.
		setting := `SET LOCAL enable_indexscan = off`
		if walk {
			setting = `SET LOCAL enable_bitmapscan = off`
		}
		if _, err := tx.Exec(ctx, setting); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanHit)
		return err
	})
	return out, dbError(err, "search")
}

// ConversationIDsAfter lists conversation ids after the given one, in
// order: the backfill's walk.
func (db *DB) ConversationIDsAfter(ctx context.Context, after string, limit int) ([]string, error) {
	return db.ids(ctx, `SELECT id FROM conversations WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// SearchIndexEmpty reports whether nothing has been indexed yet.
func (db *DB) SearchIndexEmpty(ctx context.Context) (bool, error) {
	var empty bool
	err := db.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM search_docs)`).Scan(&empty)
	return empty, dbError(err, "search index")
}
