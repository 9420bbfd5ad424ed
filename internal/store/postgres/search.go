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

// searchWindow is how many of the newest documents Search looks at first.
const searchWindow = 50_000

// Search returns the newest matching documents. A phrase of common
// characters ("打印") matches a large share of all messages, and
// intersecting their whole posting lists and checking positions costs
// hundreds of milliseconds at a million messages; the newest matches are
// almost always among the newest documents, so the newest window is
// searched first and the rest only when it holds too few.
func (db *DB) Search(ctx context.Context, q desk.SearchQuery) ([]desk.SearchHit, error) {
	hi := q.BeforeID
	if hi <= 0 {
		if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM search_docs`).Scan(&hi); err != nil {
			return nil, dbError(err, "search")
		}
	}
	lo := max(0, hi-searchWindow)
	first, err := db.search(ctx, q, lo, hi, q.Limit)
	if err != nil || len(first) == q.Limit || lo == 0 {
		return first, err
	}
	rest, err := db.search(ctx, q, 0, lo, q.Limit-len(first))
	return append(first, rest...), err
}

// search finds matches with ids in [lo, hi).
func (db *DB) search(ctx context.Context, q desk.SearchQuery, lo, hi int64, limit int) ([]desk.SearchHit, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"d.terms @@ to_tsquery('simple', " + arg(q.TS) + ")"}
	where = append(where, "d.id < "+arg(hi), "d.id >= "+arg(lo))
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
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.conversation_id, d.seq
		FROM search_docs d JOIN conversations c ON c.id = d.conversation_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY d.id DESC LIMIT `+arg(limit), args...)
	if err != nil {
		return nil, dbError(err, "search")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.SearchHit, error) {
		var h desk.SearchHit
		err := r.Scan(&h.DocID, &h.ConversationID, &h.Seq)
		return h, err
	})
	return out, dbError(err, "search")
}
