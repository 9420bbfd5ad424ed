package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The index's inserts run for every batch: prepared (hotWrites). All of a
// transaction's documents are written in three statements, whatever their
// number: the ids they will get (the next after the highest, as SQLite
// gives an INTEGER PRIMARY KEY), then their rows, then their terms, each a
// JSON array whose n-th element is the document base+1+n. FTS5 writes its
// pending terms out as a new segment at the start of every statement that
// writes it (the statement's savepoint), so one insert per document wrote
// (and later merged) one segment per message; and one row insert per
// document was a statement per message.
const (
	qSearchDocsMax     = `SELECT coalesce(max(id), 0) FROM search_docs`
	qInsertSearchDocs  = `INSERT INTO search_docs (id, conversation_id, seq) SELECT ? + 1 + key, value ->> 0, value ->> 1 FROM json_each(?)`
	qInsertSearchTerms = `INSERT INTO search_terms (rowid, terms) SELECT ? + 1 + key, value FROM json_each(?)`
)

// Index queues a document for the end of the transaction (flushIndex).
func (t *convTx) Index(ctx context.Context, conversationID string, seq int64, terms string) error {
	if strings.TrimSpace(terms) == "" {
		return nil
	}
	t.index = append(t.index, indexEntry{conversationID, seq, terms})
	return nil
}

type indexEntry struct {
	conversationID string
	seq            int64
	terms          string
}

// flushIndex writes the queued documents, outside any savepoint.
func (t *convTx) flushIndex(ctx context.Context) error {
	if len(t.index) == 0 {
		return nil
	}
	docs := make([][2]any, len(t.index))
	terms := make([]string, len(t.index))
	for i, e := range t.index {
		docs[i], terms[i] = [2]any{e.conversationID, e.seq}, e.terms
	}
	allDocs, err := json.Marshal(docs)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	allTerms, err := json.Marshal(terms)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	var base int64
	if err := t.run.queryRow(ctx, qSearchDocsMax).Scan(&base); err != nil {
		return dbError(err, "index")
	}
	if _, err := t.run.exec(ctx, qInsertSearchDocs, base, string(allDocs)); err != nil {
		return dbError(err, "index")
	}
	if _, err := t.run.exec(ctx, qInsertSearchTerms, base, string(allTerms)); err != nil {
		return dbError(err, "index")
	}
	t.index = nil
	return nil
}

// Search walks the FTS5 index newest first (descending rowid, which the
// module serves without sorting) and keeps what the filters allow.
func (db *DB) Search(ctx context.Context, q desk.SearchQuery) ([]desk.SearchHit, error) {
	where := []string{"search_terms MATCH ?"}
	args := []any{q.FTS}
	if q.BeforeID > 0 {
		where = append(where, "s.rowid < ?")
		args = append(args, q.BeforeID)
	}
	if len(q.Statuses) > 0 {
		where = append(where, "c.status IN (?"+strings.Repeat(", ?", len(q.Statuses)-1)+")")
		for _, st := range q.Statuses {
			args = append(args, string(st))
		}
	}
	for col, v := range map[string]string{"c.category": q.Category, "c.priority": q.Priority, "c.assignee_id": q.AssigneeID} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	if q.Tag != "" {
		where = append(where, "EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = ?)")
		args = append(args, q.Tag)
	}
	if !q.From.IsZero() {
		where = append(where, "c.created_at >= ?")
		args = append(args, millis(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "c.created_at < ?")
		args = append(args, millis(q.To))
	}
	if q.AgentID != "" {
		where = append(where, `(c.status = 'queued' OR EXISTS (SELECT 1 FROM participants p
			WHERE p.conversation_id = c.id AND p.role = 'agent' AND p.user_id = ?))`)
		args = append(args, q.AgentID)
	}
	args = append(args, q.Limit)
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.conversation_id, d.seq
		FROM search_terms s JOIN search_docs d ON d.id = s.rowid JOIN conversations c ON c.id = d.conversation_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY s.rowid DESC LIMIT ?`, args...)
	if err != nil {
		return nil, dbError(err, "search")
	}
	defer rows.Close()
	var out []desk.SearchHit
	for rows.Next() {
		var h desk.SearchHit
		if err := rows.Scan(&h.DocID, &h.ConversationID, &h.Seq); err != nil {
			return nil, dbError(err, "search")
		}
		out = append(out, h)
	}
	return out, dbError(rows.Err(), "search")
}

// ConversationIDsAfter lists conversation ids after the given one, in
// order: the backfill's walk.
func (db *DB) ConversationIDsAfter(ctx context.Context, after string, limit int) ([]string, error) {
	return db.ids(ctx, "list conversations", `SELECT id FROM conversations WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// SearchIndexEmpty reports whether nothing has been indexed yet.
func (db *DB) SearchIndexEmpty(ctx context.Context) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM search_docs LIMIT 1)`).Scan(&n)
	return n == 0, dbError(err, "search index")
}
