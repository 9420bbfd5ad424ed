package firstline

import (
	"context"
	"encoding/json"
	"time"
)

// Exchange is one turn of the assistant's, kept with the conversation for
// agents to review: the prompt exactly as sent, and the answer or why there
// was none.
type Exchange struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	EmployeeID     string `json:"employee_id"`
	// AgentID is who asked for a draft; empty for answers to employees.
	AgentID string `json:"agent_id,omitempty"`
	Kind    string `json:"kind"` // KindAnswer or KindDraft
	Model   string `json:"model"`
	// Prompt is the chat messages sent, as JSON.
	Prompt    json.RawMessage `json:"prompt"`
	Answer    string          `json:"answer"`
	Citations []string        `json:"citations"`
	Outcome   string          `json:"outcome"`
	Error     string          `json:"error,omitempty"`
	StartedAt time.Time       `json:"started_at"`
	Duration  time.Duration   `json:"-"`
	// DurationMS is Duration for JSON readers.
	DurationMS int64 `json:"duration_ms"`
}

// Kinds of exchange.
const (
	KindAnswer = "answer" // the first answer to an employee's request
	KindDraft  = "draft"  // a reply drafted for an agent
)

// Outcomes of an exchange.
const (
	OutcomeAnswered   = "answered"    // an answer grounded in articles
	OutcomeUnknown    = "unknown"     // the articles did not cover it
	OutcomeNoArticles = "no_articles" // nothing to ground an answer in: not asked
	OutcomeFailed     = "failed"      // the model failed, stalled, or its breaker is open
	OutcomeLate       = "late"        // answered after the employee had a person
)

// Stats is what the assistant did over a period.
type Stats struct {
	// Answered counts requests the assistant answered from articles;
	// Unknown those it said it could not, Failed those it could not answer
	// at all (model down, slow, or no article matched).
	Answered int64 `json:"answered"`
	Unknown  int64 `json:"unknown"`
	Failed   int64 `json:"failed"`
	// HandedOver counts requests employees took to a person after the
	// assistant's turn (转人工 or writing again); HandedOverByAssistant
	// those it passed on itself.
	HandedOver            int64 `json:"handed_over"`
	HandedOverByAssistant int64 `json:"handed_over_by_assistant"`
	// Drafts counts replies drafted for agents.
	Drafts int64 `json:"drafts"`
}

// Store keeps the exchanges (the SQL stores). CountAnswers counts an
// employee's answers (kind answer) started at or after since.
type Store interface {
	SaveExchange(ctx context.Context, e Exchange) error
	Exchanges(ctx context.Context, conversationID string) ([]Exchange, error)
	CountAnswers(ctx context.Context, employeeID string, since time.Time) (int, error)
	AssistantStats(ctx context.Context, from, to time.Time) (Stats, error)
}
