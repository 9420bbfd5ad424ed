// Package firstline is the desk's smart first line: the optional AI
// assistant's part in a conversation. A new request in a category that
// allows it is answered first by the assistant, from the published
// knowledge-base articles that best match it and from nothing else; agents
// can ask it for a draft reply. The model is reached through
// internal/assistant (an OpenAI-compatible chat-completions client with
// timeouts and a circuit breaker); the rules of the conversation (the bot
// status, the hand-off to the queue) are internal/conversation's.
//
// The human path never waits on the model: the request is stored before
// the model is asked, every failure hands it to the queue at once, and a
// sweep there hands over any request whose answer never came.
package firstline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/assistant"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/kb"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// Model streams a chat completion (*assistant.Client).
type Model interface {
	Stream(ctx context.Context, msgs []assistant.Message, onDelta func(string)) (assistant.Completion, error)
	Model() string
}

// Desk is the conversation side (*conversation.Service).
type Desk interface {
	Events(ctx context.Context, viewer desk.Principal, id string, afterSeq int64, limit int) ([]desk.ConvEvent, error)
	BotReply(ctx context.Context, conversationID, body string, articles []desk.ArticleRef, clientMsgID string) (desk.ConvEvent, error)
	Handover(ctx context.Context, actor desk.Principal, conversationID, reason string) (desk.Conversation, error)
}

// Articles finds what the assistant may answer from (*kb.Service).
type Articles interface {
	Grounding(ctx context.Context, text string, limit int) ([]kb.Article, error)
}

// Publisher sends a frame to sockets (the event bus).
type Publisher interface {
	Publish(ctx context.Context, ev desk.Event) error
}

// Switch says whether the assistant answers a category's new requests
// (*settings.Service).
type Switch interface {
	AssistantOn(category string) bool
}

// Config wires a Service. A nil Model means no assistant: the Service then
// wants nothing and every request goes to the queue as before.
type Config struct {
	Model    Model
	Desk     Desk
	Articles Articles
	Store    Store
	Bus      Publisher
	Switch   Switch
	// AnswersPerHour caps the answers one employee gets an hour (default
	// 10): past it, requests go straight to the queue.
	AnswersPerHour int
	// ArticleURL is where an employee reads an article (for links the
	// answer may cite): "/h5/?article={id}".
	ArticleURL func(id string) string
	// Hand-off names the desk's conversation reasons; nil keeps them.
	Log *slog.Logger
	Now func() time.Time
}

// Bot is the principal the assistant writes as (conversation.Bot).
var Bot = desk.Principal{Role: desk.RoleBot, ID: "assistant"}

// Hand-off reasons, as internal/conversation names them.
const (
	reasonUnknown = "unknown"
	reasonFailed  = "failed"
)

const (
	// groundingArticles is how many articles an answer may draw on.
	groundingArticles = 3
	// answerWithin bounds one answer from the first request to the stored
	// reply, whatever the model's own limits.
	answerWithin = 90 * time.Second
	// deltaEvery paces the streamed frames: a few a second read smoothly
	// and cost little.
	deltaEvery = 150 * time.Millisecond
	// maxAnswerRunes keeps an answer within a message's limit.
	maxAnswerRunes = 4000
)

// Service runs the assistant's turns.
type Service struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Service; Close waits for the answers under way.
func New(cfg Config) *Service {
	if cfg.AnswersPerHour <= 0 {
		cfg.AnswersPerHour = 10
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ArticleURL == nil {
		cfg.ArticleURL = func(id string) string { return "/h5/?article=" + id }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, ctx: ctx, cancel: cancel}
}

// Enabled reports whether an assistant is configured.
func (s *Service) Enabled() bool { return s != nil && s.cfg.Model != nil }

// Close stops the answers under way (their requests are handed over by
// the desk's sweep) and waits for them.
func (s *Service) Close() {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
}

// Wants reports whether the assistant should answer an employee's new
// request in category first: it is configured, on for the category, and
// the employee has answers left this hour. Any doubt says no: the queue is
// always a safe answer.
func (s *Service) Wants(ctx context.Context, employee desk.Principal, category string) bool {
	if !s.Enabled() || employee.Role != desk.RoleEmployee {
		return false
	}
	if category == "" {
		category = "other"
	}
	if s.cfg.Switch != nil && !s.cfg.Switch.AssistantOn(category) {
		return false
	}
	n, err := s.cfg.Store.CountAnswers(ctx, employee.ID, s.cfg.Now().Add(-time.Hour))
	if err != nil {
		s.cfg.Log.Warn("count the assistant's answers", "employee_id", employee.ID, "error", err)
		return false
	}
	return n < s.cfg.AnswersPerHour
}

// Start answers a conversation created in the bot status, in the
// background: the employee's request is already stored and acknowledged.
func (s *Service) Start(c desk.Conversation) {
	if !s.Enabled() || c.Status != desk.StatusBot {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, answerWithin)
		defer cancel()
		s.Answer(ctx, c)
	}()
}

// Answer gives the assistant's first answer to c and returns the exchange
// as stored. Whatever goes wrong, the conversation ends up with a person
// (handed over) or with an answer citing articles.
func (s *Service) Answer(ctx context.Context, c desk.Conversation) Exchange {
	x := Exchange{ConversationID: c.ID, EmployeeID: c.EmployeeID, Kind: KindAnswer, Model: s.cfg.Model.Model(),
		StartedAt: s.cfg.Now().UTC(), Citations: []string{}, Prompt: json.RawMessage("[]")}
	employee := desk.Principal{Role: desk.RoleEmployee, ID: c.EmployeeID}
	defer func() { s.save(&x) }()
	handOver := func(reason string) {
		// A fresh context: a model that used up the time must not keep the
		// employee from a person.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := s.cfg.Desk.Handover(hctx, Bot, c.ID, reason); err != nil {
			s.cfg.Log.Error("hand a request over to the queue", "conversation_id", c.ID, "error", err)
		}
	}

	turns, err := s.turns(ctx, c.ID)
	if err != nil {
		x.Outcome, x.Error = OutcomeFailed, err.Error()
		handOver(reasonFailed)
		return x
	}
	articles, err := s.grounding(ctx, c.Subject, turns)
	if err != nil || len(articles) == 0 {
		x.Outcome = OutcomeNoArticles
		if err != nil {
			x.Outcome, x.Error = OutcomeFailed, err.Error()
		}
		handOver(reasonUnknown)
		return x
	}
	msgs := assistant.BuildAnswer(turns, articles)
	x.Prompt, _ = json.Marshal(msgs)

	stream := s.streamer(ctx, employee, c.ID)
	comp, err := s.cfg.Model.Stream(ctx, msgs, stream.add)
	if err != nil {
		stream.done()
		x.Outcome, x.Error = OutcomeFailed, assistant.Reason(err)
		s.cfg.Log.Warn("the assistant could not answer; handed over", "conversation_id", c.ID, "reason", x.Error)
		handOver(reasonFailed)
		return x
	}
	if comp.Model != "" {
		x.Model = comp.Model
	}
	g := assistant.Ground(comp.Text, articles)
	x.Answer, x.Citations = cutRunes(g.Text, maxAnswerRunes), g.Citations
	if x.Citations == nil {
		x.Citations = []string{}
	}
	x.Outcome = OutcomeAnswered
	if g.Unknown {
		x.Outcome = OutcomeUnknown
	}
	_, err = s.cfg.Desk.BotReply(context.WithoutCancel(ctx), c.ID, x.Answer, refs(articles, x.Citations), "assistant-"+c.ID)
	stream.done()
	switch {
	case desk.ErrorCode(err) == desk.EConflict:
		x.Outcome = OutcomeLate // the employee went to a person meanwhile
	case err != nil:
		x.Outcome, x.Error = OutcomeFailed, err.Error()
		handOver(reasonFailed)
	case g.Unknown:
		handOver(reasonUnknown)
	}
	return x
}

// DraftResult is a reply drafted for an agent.
type DraftResult struct {
	Text     string            `json:"text"`
	Articles []desk.ArticleRef `json:"articles"`
}

// Draft writes a reply for agent to edit, from the conversation so far and
// the articles matching it; onDelta gets the text as it grows. The caller
// has checked that agent may read the conversation.
func (s *Service) Draft(ctx context.Context, agent desk.Principal, c desk.Conversation, onDelta func(string)) (DraftResult, error) {
	if !s.Enabled() {
		return DraftResult{}, desk.Errorf(desk.ENotFound, "no assistant is configured")
	}
	if agent.Role != desk.RoleAgent {
		return DraftResult{}, desk.Errorf(desk.EForbidden, "drafts are for agents")
	}
	x := Exchange{ConversationID: c.ID, EmployeeID: c.EmployeeID, AgentID: agent.ID, Kind: KindDraft, Model: s.cfg.Model.Model(),
		StartedAt: s.cfg.Now().UTC(), Citations: []string{}, Prompt: json.RawMessage("[]")}
	defer func() { s.save(&x) }()
	turns, err := s.turns(ctx, c.ID)
	if err != nil {
		x.Outcome, x.Error = OutcomeFailed, err.Error()
		return DraftResult{}, err
	}
	articles, err := s.grounding(ctx, c.Subject, turns)
	if err != nil {
		x.Outcome, x.Error = OutcomeFailed, err.Error()
		return DraftResult{}, err
	}
	msgs := assistant.BuildDraft(turns, articles)
	x.Prompt, _ = json.Marshal(msgs)
	comp, err := s.cfg.Model.Stream(ctx, msgs, onDelta)
	if err != nil {
		x.Outcome, x.Error = OutcomeFailed, assistant.Reason(err)
		return DraftResult{}, desk.Errorf(desk.EUnavailable, "the assistant could not draft a reply (%s); write it yourself", x.Error)
	}
	g := assistant.Ground(comp.Text, articles)
	x.Answer, x.Citations, x.Outcome = cutRunes(g.Text, maxAnswerRunes), g.Citations, OutcomeAnswered
	if g.Unknown {
		x.Outcome = OutcomeUnknown
	}
	if x.Citations == nil {
		x.Citations = []string{}
	}
	return DraftResult{Text: x.Answer, Articles: refs(articles, x.Citations)}, nil
}

// Exchanges lists a conversation's exchanges for review; the caller has
// checked that an agent may read it.
func (s *Service) Exchanges(ctx context.Context, conversationID string) ([]Exchange, error) {
	if s == nil || s.cfg.Store == nil {
		return []Exchange{}, nil
	}
	xs, err := s.cfg.Store.Exchanges(ctx, conversationID)
	if xs == nil {
		xs = []Exchange{}
	}
	return xs, err
}

// Stats is what the assistant did in [from, to).
func (s *Service) Stats(ctx context.Context, from, to time.Time) (Stats, error) {
	if s == nil || s.cfg.Store == nil {
		return Stats{}, nil
	}
	return s.cfg.Store.AssistantStats(ctx, from, to)
}

// turns reads the conversation's public messages: only this
// conversation's words ever reach the prompt.
func (s *Service) turns(ctx context.Context, id string) ([]assistant.Turn, error) {
	evs, err := s.cfg.Desk.Events(ctx, Bot, id, 0, 200)
	if err != nil {
		return nil, err
	}
	var out []assistant.Turn
	for _, ev := range evs {
		if ev.Type != desk.EventMessage || ev.Private {
			continue
		}
		var m desk.Message
		if err := json.Unmarshal(ev.Data, &m); err != nil || strings.TrimSpace(m.Body) == "" {
			continue
		}
		role := assistant.RoleEmployee
		switch m.SenderType {
		case desk.RoleAgent:
			role = assistant.RoleAgent
		case desk.RoleBot:
			role = assistant.RoleBot
		}
		out = append(out, assistant.Turn{Role: role, Name: m.SenderName, Text: m.Body})
	}
	return out, nil
}

// grounding finds the published articles for the subject and what the
// employee wrote.
func (s *Service) grounding(ctx context.Context, subject string, turns []assistant.Turn) ([]assistant.Article, error) {
	text := []string{subject}
	for _, t := range turns {
		if t.Role == assistant.RoleEmployee {
			text = append(text, t.Text)
		}
	}
	found, err := s.cfg.Articles.Grounding(ctx, strings.Join(text, "\n"), groundingArticles)
	if err != nil {
		return nil, err
	}
	out := make([]assistant.Article, 0, len(found))
	for _, a := range found {
		out = append(out, assistant.Article{ID: a.ID, Title: a.Title, Body: a.Body, URL: s.cfg.ArticleURL(a.ID)})
	}
	return out, nil
}

// save stores an exchange; losing one loses a record, not an answer.
func (s *Service) save(x *Exchange) {
	x.Duration = s.cfg.Now().Sub(x.StartedAt)
	x.DurationMS = x.Duration.Milliseconds()
	id, err := newID()
	if err != nil {
		s.cfg.Log.Error("store the assistant's exchange", "error", err)
		return
	}
	x.ID = id
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.cfg.Store.SaveExchange(ctx, *x); err != nil {
		s.cfg.Log.Error("store the assistant's exchange", "conversation_id", x.ConversationID, "error", err)
	}
}

// streamer sends the answer to the employee's sockets as it grows, at
// most every deltaEvery; each frame carries all of it so far.
type streamer struct {
	s        *Service
	ctx      context.Context
	to       desk.Principal
	id       string
	text     strings.Builder
	lastSent time.Time
}

func (s *Service) streamer(ctx context.Context, to desk.Principal, id string) *streamer {
	return &streamer{s: s, ctx: ctx, to: to, id: id}
}

func (st *streamer) add(delta string) {
	st.text.WriteString(delta)
	if now := time.Now(); now.Sub(st.lastSent) >= deltaEvery {
		st.lastSent = now
		st.send(false)
	}
}

func (st *streamer) done() { st.send(true) }

func (st *streamer) send(done bool) {
	if st.s.cfg.Bus == nil {
		return
	}
	text := ""
	if !done {
		text = cutRunes(st.text.String(), maxAnswerRunes)
	}
	frame, err := json.Marshal(struct {
		Type           string `json:"type"`
		ConversationID string `json:"conversation_id"`
		Text           string `json:"text"`
		Done           bool   `json:"done"`
	}{wire.TypeAssistantDelta, st.id, text, done})
	if err != nil {
		return
	}
	// A lost frame is made good by the next, and by the stored answer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(st.ctx), 2*time.Second)
	defer cancel()
	if err := st.s.cfg.Bus.Publish(ctx, desk.Event{To: desk.Audience{Kind: desk.ToUser, User: st.to}, Frame: frame}); err != nil && !errors.Is(err, context.Canceled) {
		st.s.cfg.Log.Debug("stream the assistant's answer", "conversation_id", st.id, "error", err)
	}
}

// refs names the cited articles, in the order cited.
func refs(articles []assistant.Article, cited []string) []desk.ArticleRef {
	var out []desk.ArticleRef
	for _, id := range cited {
		for _, a := range articles {
			if a.ID == id {
				out = append(out, desk.ArticleRef{ID: a.ID, Title: a.Title})
				break
			}
		}
	}
	return out
}

func cutRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

func newID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "ax_" + hex.EncodeToString(b[:]), nil
}
