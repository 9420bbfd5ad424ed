package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

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
	prompt := e.Prompt
	if len(prompt) == 0 {
		prompt = json.RawMessage("[]")
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO assistant_exchanges (id, conversation_id, employee_id, agent_id, kind, model,
		prompt, answer, citations, outcome, error, started_at, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		e.ID, e.ConversationID, e.EmployeeID, e.AgentID, e.Kind, e.Model, string(prompt), e.Answer, string(cites),
		e.Outcome, e.Error, dbTime(e.StartedAt), e.Duration.Milliseconds())
	return dbError(err, "save assistant exchange")
}

// Exchanges lists a conversation's exchanges, oldest first.
func (db *DB) Exchanges(ctx context.Context, conversationID string) ([]firstline.Exchange, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, conversation_id, employee_id, agent_id, kind, model, prompt::text, answer,
		citations::text, outcome, error, started_at, duration_ms FROM assistant_exchanges WHERE conversation_id = $1 ORDER BY started_at, id`, conversationID)
	if err != nil {
		return nil, dbError(err, "read assistant exchanges")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (firstline.Exchange, error) {
		var e firstline.Exchange
		var prompt, cites string
		var ms int64
		if err := r.Scan(&e.ID, &e.ConversationID, &e.EmployeeID, &e.AgentID, &e.Kind, &e.Model, &prompt, &e.Answer,
			&cites, &e.Outcome, &e.Error, &e.StartedAt, &ms); err != nil {
			return e, err
		}
		e.Prompt, e.StartedAt, e.Duration, e.DurationMS = json.RawMessage(prompt), e.StartedAt.UTC(), time.Duration(ms)*time.Millisecond, ms
		json.Unmarshal([]byte(cites), &e.Citations)
		return e, nil
	})
	return out, dbError(err, "read assistant exchanges")
}

// CountAnswers counts an employee's answers started at or after since.
func (db *DB) CountAnswers(ctx context.Context, employeeID string, since time.Time) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM assistant_exchanges WHERE employee_id = $1 AND started_at >= $2 AND kind = $3`,
		employeeID, dbTime(since), firstline.KindAnswer).Scan(&n)
	return n, dbError(err, "count assistant answers")
}

// AssistantStats counts the exchanges and hand-overs of [from, to).
func (db *DB) AssistantStats(ctx context.Context, from, to time.Time) (firstline.Stats, error) {
	var st firstline.Stats
	err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'answer' AND outcome = 'answered'),
		count(*) FILTER (WHERE kind = 'answer' AND outcome = 'unknown'),
		count(*) FILTER (WHERE kind = 'answer' AND outcome IN ('failed', 'no_articles')), count(*) FILTER (WHERE kind = 'draft')
		FROM assistant_exchanges WHERE started_at >= $1 AND started_at < $2`, dbTime(from), dbTime(to)).
		Scan(&st.Answered, &st.Unknown, &st.Failed, &st.Drafts)
	if err != nil {
		return st, dbError(err, "count assistant exchanges")
	}
	err = db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE actor_role = 'employee'), count(*) FILTER (WHERE actor_role = 'bot')
		FROM events WHERE type = $1 AND created_at >= $2 AND created_at < $3`, string(desk.EventHandedOver), dbTime(from), dbTime(to)).
		Scan(&st.HandedOver, &st.HandedOverByAssistant)
	return st, dbError(err, "count hand-overs")
}
