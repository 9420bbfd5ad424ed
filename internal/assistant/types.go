package assistant

import "time"

// Message is one chat-completions message as the API takes it.
type Message struct {
	Role    string `json:"role"` // "system" or "user": the builders make no other
	Content string `json:"content"`
}

// Role says who wrote a Turn of a desk conversation.
type Role string

// The roles of a conversation's turns.
const (
	RoleEmployee Role = "employee"
	RoleAgent    Role = "agent"
	RoleBot      Role = "bot" // an earlier answer of the assistant
)

// Turn is one message of the conversation the assistant answers.
type Turn struct {
	Role Role
	Name string // display name, as the desk shows it
	Text string
}

// Article is a knowledge-base article the assistant may answer from.
type Article struct {
	ID    string
	Title string
	Body  string // Markdown, as stored
	URL   string // where an employee reads it; empty when there is none
}

// Usage is the token count the provider reports, in the last chunk when it
// reports one.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Kind says what an Exchange produced.
type Kind string

// The kinds of exchange.
const (
	KindAnswer Kind = "answer" // shown to the employee
	KindDraft  Kind = "draft"  // shown to an agent, who edits and sends it
)

// Exchange is the record of one call to the model, for storage and audit:
// what was asked, what came back and how it went. Prompt holds the
// employee's messages, so it falls under the same retention as the
// conversation. Error is the error's text, which never holds the API key.
type Exchange struct {
	Kind      Kind          `json:"kind"`
	Model     string        `json:"model"`
	Prompt    []Message     `json:"prompt"`
	Answer    string        `json:"answer"`    // after Ground
	Citations []string      `json:"citations"` // article IDs
	Unknown   bool          `json:"unknown"`
	Usage     Usage         `json:"usage"`
	Error     string        `json:"error,omitempty"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
}
