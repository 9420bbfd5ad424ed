package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func (x *tx) Index(ctx context.Context, conversationID string, seq int64, terms string) error {
	if strings.TrimSpace(terms) == "" {
		return nil
	}
	_, err := x.t.Exec(ctx, `INSERT INTO search_docs (conversation_id, seq, terms) VALUES ($1, $2, to_tsvector('simple', $3))`,
		conversationID, seq, terms)
	return dbError(err, "index")
}

// searchWindow is how many of the newest documents Search reads one by one
// before it asks the index (ten times as many for an agent's search).
const searchWindow = 5_000

// Search returns the newest matching documents. Terms are single
// characters, so a common word ("打印机") has every one of its characters
// in a large share of all messages: through the GIN index that means
// intersecting posting lists of hundreds of thousands of documents and
// checking positions, hundreds of milliseconds at a million messages, for
// matches that are almost always among the newest documents. So the
// newest window is read first, newest to oldest, each document checked
// (bounded work, and a common word fills the page there), and the index
// is asked only for what is older, which a rare word answers quickly.
func (db *DB) Search(ctx context.Context, q desk.SearchQuery) ([]desk.SearchHit, error) {
	hi := q.BeforeID
	if hi <= 0 {
		if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM search_docs`).Scan(&hi); err != nil {
			return nil, dbError(err, "search")
		}
	}
	window := int64(searchWindow)
	if q.AgentID != "" {
		// An agent reads a small share of the desk: look further back
		// before the index, or a common word fills no page of theirs.
		window *= 10
	}
	lo := max(0, hi-window)
	first, err := db.search(ctx, q, lo, hi, q.Limit, true)
	if err != nil || len(first) == q.Limit || lo == 0 {
		return first, err
	}
	rest, err := db.search(ctx, q, 0, lo, q.Limit-len(first), false)
	return append(first, rest...), err
}

// search finds matches with ids in [lo, hi); walk reads the documents in
// id order instead of asking the GIN index.
func (db *DB) search(ctx context.Context, q desk.SearchQuery, lo, hi int64, limit int, walk bool) ([]desk.SearchHit, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"d.terms @@ to_tsquery('simple', " + arg(q.TS) + ")"}
	if walk {
		where = append(where, "d.id < "+arg(hi), "d.id >= "+arg(lo))
	} else {
		// "+ 0": a bound, not an index condition; ANDing the GIN bitmap
		// with a primary-key range of nearly every row would cost more
		// than the match itself.
		where = append(where, "(d.id + 0) < "+arg(hi))
	}
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
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.SearchHit, error) {
			var h desk.SearchHit
			err := r.Scan(&h.DocID, &h.ConversationID, &h.Seq)
			return h, err
		})
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
