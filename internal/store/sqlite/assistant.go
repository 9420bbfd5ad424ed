package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/firstline"
)

// The assistant's exchanges (internal/firstline).

var _ firstline.Store = (*DB)(nil)

// SaveExchange stores one of the assistant's exchanges.
func (db *DB) SaveExchange(ctx context.Context, e firstline.Exchange) error {
	cites, _ := json.Marshal(e.Citations)
	if e.Citations == nil {
		cites = []byte("[]")
	}
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		_, err := tx.(*convTx).run.exec(ctx, `INSERT INTO assistant_exchanges (id, conversation_id, employee_id, agent_id, kind, model,
			prompt, answer, citations, outcome, error, started_at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.ConversationID, e.EmployeeID, e.AgentID, e.Kind, e.Model, string(e.Prompt), e.Answer, string(cites),
			e.Outcome, e.Error, millis(e.StartedAt), e.Duration.Milliseconds())
		return dbError(err, "save assistant exchange")
	})
}

// Exchanges lists a conversation's exchanges, oldest first.
func (db *DB) Exchanges(ctx context.Context, conversationID string) ([]firstline.Exchange, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, conversation_id, employee_id, agent_id, kind, model, prompt, answer,
		citations, outcome, error, started_at, duration_ms FROM assistant_exchanges WHERE conversation_id = ? ORDER BY started_at, id`, conversationID)
	if err != nil {
		return nil, dbError(err, "read assistant exchanges")
	}
	defer rows.Close()
	var out []firstline.Exchange
	for rows.Next() {
		var e firstline.Exchange
		var prompt, cites string
		var at, ms int64
		if err := rows.Scan(&e.ID, &e.ConversationID, &e.EmployeeID, &e.AgentID, &e.Kind, &e.Model, &prompt, &e.Answer,
			&cites, &e.Outcome, &e.Error, &at, &ms); err != nil {
			return nil, dbError(err, "read assistant exchanges")
		}
		e.Prompt, e.StartedAt, e.Duration, e.DurationMS = json.RawMessage(prompt), fromMillis(at), time.Duration(ms)*time.Millisecond, ms
		json.Unmarshal([]byte(cites), &e.Citations)
		out = append(out, e)
	}
	return out, dbError(rows.Err(), "read assistant exchanges")
}

// CountAnswers counts an employee's answers started at or after since.
func (db *DB) CountAnswers(ctx context.Context, employeeID string, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM assistant_exchanges WHERE employee_id = ? AND started_at >= ? AND kind = ?`,
		employeeID, millis(since), firstline.KindAnswer).Scan(&n)
	return n, dbError(err, "count assistant answers")
}

// AssistantStats counts the exchanges and hand-overs of [from, to).
func (db *DB) AssistantStats(ctx context.Context, from, to time.Time) (firstline.Stats, error) {
	var st firstline.Stats
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(kind = 'answer' AND outcome = 'answered'), 0),
		coalesce(sum(kind = 'answer' AND outcome = 'unknown'), 0),
		coalesce(sum(kind = 'answer' AND outcome IN ('failed', 'no_articles')), 0), coalesce(sum(kind = 'draft'), 0)
		FROM assistant_exchanges WHERE started_at >= ? AND started_at < ?`, millis(from), millis(to)).
		Scan(&st.Answered, &st.Unknown, &st.Failed, &st.Drafts)
	if err != nil {
		return st, dbError(err, "count assistant exchanges")
	}
	err = db.read.QueryRowContext(ctx, `SELECT coalesce(sum(actor_role = 'employee'), 0), coalesce(sum(actor_role = 'bot'), 0)
		FROM events WHERE type = ? AND created_at >= ? AND created_at < ?`, string(desk.EventHandedOver), millis(from), millis(to)).
		Scan(&st.HandedOver, &st.HandedOverByAssistant)
	return st, dbError(err, "count hand-overs")
}
