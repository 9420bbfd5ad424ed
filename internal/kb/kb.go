// Package kb is the knowledge base: articles agents write so employees can
// help themselves before they ask (VPN steps, resetting a password).
//
// Agents write and edit drafts, and every save keeps a version they can
// read back; admins publish and archive, audited. Employees see published
// articles only, count a view each time they open one, and say whether it
// helped. Bodies are Markdown stored as typed: the pages render them with
// every HTML tag escaped, so the server neither parses nor filters them.
//
// Each node keeps the published articles in a kbsearch.Index: loaded from
// the store in the background when Run starts, changed at once by this
// node's own saves, and brought up to date with other nodes' saves every
// RefreshInterval (the articles whose updated_at moved since the last look).
package kb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/kbsearch"
)

// Statuses of an article.
const (
	Draft     = "draft"     // agents' work; employees never see it
	Published = "published" // employees read and find it
	Archived  = "archived"  // withdrawn, kept with its history
)

// Limits of an article.
const (
	MaxTitleRunes = 120
	MaxBodyBytes  = 64 << 10
)

// Article is one knowledge-base article.
type Article struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Body     string   `json:"body,omitempty"` // Markdown; left out of lists
	Category string   `json:"category"`
	Tags     []string `json:"tags"`
	Status   string   `json:"status"`
	// AuthorID is the agent who saved the current version; employees
	// are not told.
	AuthorID    string     `json:"author_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	Views       int64      `json:"views"`
	Helped      int64      `json:"helped"`
	NotHelped   int64      `json:"not_helped"`
	Version     int        `json:"version"`
}

// Version is an article as one save left it.
type Version struct {
	ArticleID string    `json:"article_id"`
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Category  string    `json:"category"`
	Tags      []string  `json:"tags"`
	AuthorID  string    `json:"author_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Filter narrows a list of articles. The cursor is the last article of
// the previous page: lists go newest change first.
type Filter struct {
	Status   string // "" for any
	Category string
	Q        string // in the title, case-insensitively for Latin letters
	After    *Cursor
	Limit    int
}

// Cursor is a position in a list, newest change first.
type Cursor struct {
	UpdatedAt time.Time
	ID        string
}

// Event kinds kept for the figures.
const (
	EventView       = "view"
	EventHelped     = "helped"
	EventNotHelped  = "not_helped"
	EventDeflection = "deflection"
)

// Event is something an employee did with the knowledge base. A view or
// a verdict names its article; a deflection the question asked, the
// articles offered, and whether they settled it.
type Event struct {
	At         time.Time
	Kind       string
	ArticleID  string
	Query      string
	ArticleIDs []string
	Resolved   bool
}

// Stats are the knowledge base's figures over a period.
type Stats struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Deflections counts the questions employees typed before asking
	// for help that were answered with articles; Resolved those the
	// articles settled; DeflectionRate is Resolved / Deflections.
	Deflections    int64   `json:"deflections"`
	Resolved       int64   `json:"resolved"`
	DeflectionRate float64 `json:"deflection_rate"`
	Views          int64   `json:"views"`
	// ArticlesViewed counts distinct articles opened.
	ArticlesViewed int64 `json:"articles_viewed"`
	Helped         int64 `json:"helped"`
	NotHelped      int64 `json:"not_helped"`
	// HelpedRatio is Helped / (Helped + NotHelped).
	HelpedRatio float64 `json:"helped_ratio"`
}

// Store keeps articles, their versions and the events.
//
// SaveArticle creates a (prevVersion 0) or updates one whose stored
// version is still prevVersion (EConflict otherwise: someone saved
// meanwhile), leaving its counts alone, and adds v when not nil, all in
// one transaction. ChangedArticles lists articles of every status, bodies
// included, changed after (after, afterID) in (updated_at, id) order.
// RecordKBEvent stores e and counts a view or verdict on its article.
type Store interface {
	Article(ctx context.Context, id string) (Article, error)
	Articles(ctx context.Context, f Filter) ([]Article, error)
	ChangedArticles(ctx context.Context, after time.Time, afterID string, limit int) ([]Article, error)
	SaveArticle(ctx context.Context, a Article, prevVersion int, v *Version) error
	ArticleVersions(ctx context.Context, id string, limit int) ([]Version, error)
	RecordKBEvent(ctx context.Context, e Event) error
	KBStats(ctx context.Context, from, to time.Time) (Stats, error)
	Category(ctx context.Context, key string) (desk.Category, error)
	Setting(ctx context.Context, name string) (string, time.Time, error)
	SaveSetting(ctx context.Context, name, value string, at time.Time) error
}

// Agents tells admins from other agents.
type Agents interface {
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
}

// Auditor records admin actions.
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

// Config wires a Service.
type Config struct {
	Store  Store
	Agents Agents
	Audit  Auditor
	// Images, when set, lets articles show pictures from the attachment
	// store (images.go).
	Images Images
	Log    *slog.Logger
	Now    func() time.Time
}

// Service applies the knowledge base's rules and answers searches.
type Service struct {
	cfg   Config
	index *kbsearch.Index

	mu     sync.Mutex
	known  map[string]stamp // what the index holds (or dropped) per article
	seenAt time.Time        // newest updated_at read from the store
	seenID string
	synAt  time.Time // the stored synonyms' updated_at applied; zero: defaults
	loaded chan struct{}
	// synMu keeps a save and a reload of the synonyms from crossing.
	synMu sync.Mutex
}

// stamp says which state of an article the index reflects.
type stamp struct {
	updated time.Time
	version int
	status  string
}

// New returns a Service with an empty index holding the default synonyms
// at once (the Chinese dictionary loads in the background, about half a
// second the first time in a process); Run fills it.
func New(cfg Config) (*Service, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	x, err := kbsearch.New()
	if err != nil {
		return nil, err
	}
	x.SetSynonymsSoon(kbsearch.DefaultSynonyms)
	return &Service{cfg: cfg, index: x, known: map[string]stamp{}, loaded: make(chan struct{})}, nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return "kb_" + hex.EncodeToString(b[:])
}

// validID: anything else names no article, without asking the store.
func validID(id string) bool {
	if len(id) != 19 || !strings.HasPrefix(id, "kb_") {
		return false
	}
	_, err := hex.DecodeString(id[3:])
	return err == nil
}

func notFound() error { return desk.Errorf(desk.ENotFound, "article not found") }

// isAdmin reports whether p is an agent with the admin role.
func (s *Service) isAdmin(ctx context.Context, p desk.Principal) (bool, error) {
	if p.Role != desk.RoleAgent {
		return false, nil
	}
	a, err := s.cfg.Agents.AgentByID(ctx, p.ID)
	if desk.ErrorCode(err) == desk.ENotFound {
		return false, nil
	}
	return err == nil && a.IsAdmin(), err
}

func (s *Service) requireAdmin(ctx context.Context, p desk.Principal, doing string) error {
	ok, err := s.isAdmin(ctx, p)
	if err != nil {
		return err
	}
	if !ok {
		return desk.Errorf(desk.EForbidden, "only admins %s", doing)
	}
	return nil
}

func requireAgent(p desk.Principal) error {
	if p.Role != desk.RoleAgent {
		return desk.Errorf(desk.EForbidden, "only agents write articles")
	}
	return nil
}

// Content is what an agent sends to create or edit an article. Version, on
// an edit, is the version the agent started from: when someone saved
// since, the edit is refused (409) rather than lost. Zero skips the check.
type Content struct {
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	Category string   `json:"category"`
	Tags     []string `json:"tags"`
	Version  int      `json:"version"`
}

// clean checks d; oldCategory is the article's, which may stay even if
// it was retired since.
func (s *Service) clean(ctx context.Context, d Content, oldCategory string) (Content, error) {
	d.Title, d.Category = strings.TrimSpace(d.Title), strings.TrimSpace(d.Category)
	if strings.TrimSpace(d.Body) == "" {
		d.Body = ""
	}
	switch n := utf8.RuneCountInString(d.Title); {
	case n == 0 || n > MaxTitleRunes:
		return Content{}, desk.Errorf(desk.EInvalid, "a title of 1 to %d characters is required", MaxTitleRunes)
	case d.Body == "" || len(d.Body) > MaxBodyBytes:
		return Content{}, desk.Errorf(desk.EInvalid, "a body of 1 to %d bytes is required", MaxBodyBytes)
	case strings.ContainsAny(d.Title, "\n\r"):
		return Content{}, desk.Errorf(desk.EInvalid, "a title is one line")
	}
	if err := desk.CheckText("title", d.Title); err != nil {
		return Content{}, err
	}
	if err := desk.CheckText("body", d.Body); err != nil {
		return Content{}, err
	}
	tags, err := desk.CleanTags(d.Tags)
	if err != nil {
		return Content{}, err
	}
	d.Tags = tags
	if d.Category == "" {
		return Content{}, desk.Errorf(desk.EInvalid, "an article needs a category")
	}
	if d.Category != oldCategory {
		c, err := s.cfg.Store.Category(ctx, d.Category)
		if desk.ErrorCode(err) == desk.ENotFound || err == nil && !c.Active {
			return Content{}, desk.Errorf(desk.EInvalid, "%q is not a category in use", d.Category)
		}
		if err != nil {
			return Content{}, err
		}
	}
	return d, nil
}

// after returns now, or just after prev when this node's clock is behind
// the one that saved last: an article's updated_at only ever grows, so
// every node can tell a newer state from an older one.
func (s *Service) after(prev time.Time) time.Time {
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	if !now.After(prev) {
		now = prev.Add(time.Millisecond)
	}
	return now
}

// Create saves a new draft, version 1.
func (s *Service) Create(ctx context.Context, agent desk.Principal, d Content) (Article, error) {
	if err := requireAgent(agent); err != nil {
		return Article{}, err
	}
	d, err := s.clean(ctx, d, "")
	if err != nil {
		return Article{}, err
	}
	images, err := s.checkImages(ctx, d.Body)
	if err != nil {
		return Article{}, err
	}
	now := s.after(time.Time{})
	a := Article{ID: newID(), Title: d.Title, Body: d.Body, Category: d.Category, Tags: d.Tags, Status: Draft,
		AuthorID: agent.ID, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.cfg.Store.SaveArticle(ctx, a, 0, versionOf(a)); err != nil {
		return Article{}, err
	}
	if err := s.claimImages(ctx, a.ID, images); err != nil {
		return Article{}, err
	}
	s.apply(a)
	return a, nil
}

func versionOf(a Article) *Version {
	return &Version{ArticleID: a.ID, Version: a.Version, Title: a.Title, Body: a.Body, Category: a.Category,
		Tags: a.Tags, AuthorID: a.AuthorID, CreatedAt: a.UpdatedAt}
}

// Edit saves a new version. An admin's edit of a published article goes
// live at once; anyone else's takes it back to draft, off employees'
// pages until an admin publishes it again, so nothing reaches employees
// that no admin has seen. An archived article edited becomes a draft.
func (s *Service) Edit(ctx context.Context, agent desk.Principal, id string, d Content) (Article, error) {
	if err := requireAgent(agent); err != nil {
		return Article{}, err
	}
	old, err := s.article(ctx, id)
	if err != nil {
		return Article{}, err
	}
	if d.Version != 0 && d.Version != old.Version {
		return Article{}, desk.Errorf(desk.EConflict, "the article was saved again meanwhile (version %d); reload it", old.Version)
	}
	if d, err = s.clean(ctx, d, old.Category); err != nil {
		return Article{}, err
	}
	images, err := s.checkImages(ctx, d.Body)
	if err != nil {
		return Article{}, err
	}
	a := old
	a.Title, a.Body, a.Category, a.Tags, a.AuthorID = d.Title, d.Body, d.Category, d.Tags, agent.ID
	a.UpdatedAt, a.Version = s.after(old.UpdatedAt), old.Version+1
	if a.Status != Published {
		a.Status = Draft
	} else if admin, err := s.isAdmin(ctx, agent); err != nil {
		return Article{}, err
	} else if !admin {
		a.Status = Draft
	}
	if err := s.cfg.Store.SaveArticle(ctx, a, old.Version, versionOf(a)); err != nil {
		return Article{}, err
	}
	if err := s.claimImages(ctx, a.ID, images); err != nil {
		return Article{}, err
	}
	s.apply(a)
	if old.Status == Published && a.Status == Published {
		// The words employees read changed: an admin action like a publish.
		return a, s.record(ctx, agent, "kb.edit_published", a.ID, summary(old), summary(a))
	}
	return a, nil
}

// Publish makes an article visible to employees; admins only, audited.
func (s *Service) Publish(ctx context.Context, admin desk.Principal, id string) (Article, error) {
	return s.setStatus(ctx, admin, id, Published, "publish articles", "kb.publish")
}

// Archive withdraws an article from employees; admins only, audited.
func (s *Service) Archive(ctx context.Context, admin desk.Principal, id string) (Article, error) {
	return s.setStatus(ctx, admin, id, Archived, "archive articles", "kb.archive")
}

func (s *Service) setStatus(ctx context.Context, admin desk.Principal, id, status, doing, action string) (Article, error) {
	if err := s.requireAdmin(ctx, admin, doing); err != nil {
		return Article{}, err
	}
	old, err := s.article(ctx, id)
	if err != nil {
		return Article{}, err
	}
	if old.Status == status {
		return old, nil
	}
	a := old
	a.Status, a.UpdatedAt = status, s.after(old.UpdatedAt)
	if status == Published {
		at := a.UpdatedAt
		a.PublishedAt = &at
	}
	if err := s.cfg.Store.SaveArticle(ctx, a, old.Version, nil); err != nil {
		return Article{}, err
	}
	s.apply(a)
	return a, s.record(ctx, admin, action, a.ID, summary(old), summary(a))
}

func (s *Service) record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error {
	if s.cfg.Audit == nil {
		return nil
	}
	return s.cfg.Audit.Record(ctx, actor, action, target, before, after)
}

// summary is what the audit log keeps of an article: enough to say which
// one and in what state, not its whole body again.
func summary(a Article) map[string]any {
	return map[string]any{"title": a.Title, "status": a.Status, "version": a.Version, "category": a.Category}
}

func (s *Service) article(ctx context.Context, id string) (Article, error) {
	if !validID(id) {
		return Article{}, notFound()
	}
	return s.cfg.Store.Article(ctx, id)
}

// Get returns an article: any to agents, a published one to employees,
// for whom it counts a view.
func (s *Service) Get(ctx context.Context, p desk.Principal, id string) (Article, error) {
	a, err := s.article(ctx, id)
	if err != nil {
		return Article{}, err
	}
	if p.Role == desk.RoleAgent {
		return a, nil
	}
	if a.Status != Published {
		return Article{}, notFound()
	}
	if err := s.cfg.Store.RecordKBEvent(ctx, Event{At: s.cfg.Now().UTC(), Kind: EventView, ArticleID: a.ID}); err != nil {
		return Article{}, err
	}
	a.Views++
	return forEmployee(a), nil
}

func forEmployee(a Article) Article {
	a.AuthorID = ""
	return a
}

// DefaultListLimit is a page of articles when the caller names none.
const DefaultListLimit = 50

// List returns a page of articles without their bodies, newest change
// first: employees see published ones only, agents any (f.Status narrows).
func (s *Service) List(ctx context.Context, p desk.Principal, f Filter) ([]Article, error) {
	if p.Role != desk.RoleAgent {
		if f.Status != "" && f.Status != Published {
			return []Article{}, nil
		}
		f.Status = Published
	} else if f.Status != "" && !slices.Contains([]string{Draft, Published, Archived}, f.Status) {
		return nil, desk.Errorf(desk.EInvalid, "status must be %s, %s or %s", Draft, Published, Archived)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultListLimit
	}
	f.Q = strings.TrimSpace(f.Q)
	list, err := s.cfg.Store.Articles(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]Article, 0, len(list))
	for _, a := range list {
		a.Body = ""
		if p.Role != desk.RoleAgent {
			a = forEmployee(a)
		}
		out = append(out, a)
	}
	return out, nil
}

// Versions returns an article's saved versions, newest first; agents only.
func (s *Service) Versions(ctx context.Context, agent desk.Principal, id string) ([]Version, error) {
	if agent.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "only agents read an article's history")
	}
	if _, err := s.article(ctx, id); err != nil {
		return nil, err
	}
	vs, err := s.cfg.Store.ArticleVersions(ctx, id, maxVersions)
	if vs == nil {
		vs = []Version{}
	}
	return vs, err
}

// maxVersions bounds the history read back at once.
const maxVersions = 200

// Feedback records an employee's "this helped" or "this didn't help" on
// a published article.
func (s *Service) Feedback(ctx context.Context, employee desk.Principal, id string, helped bool) error {
	if employee.Role != desk.RoleEmployee {
		return desk.Errorf(desk.EForbidden, "only employees rate articles")
	}
	a, err := s.article(ctx, id)
	if err != nil {
		return err
	}
	if a.Status != Published {
		return notFound()
	}
	kind := EventNotHelped
	if helped {
		kind = EventHelped
	}
	return s.cfg.Store.RecordKBEvent(ctx, Event{At: s.cfg.Now().UTC(), Kind: kind, ArticleID: a.ID})
}

// Deflection limits: a question as typed in the request form, and the
// articles offered beside it.
const (
	maxQueryRunes = 200
	maxOffered    = 20
)

// RecordDeflection records that articles were offered to an employee for
// a question before they asked for help, and whether they settled it (the
// employee did not go on to ask).
func (s *Service) RecordDeflection(ctx context.Context, employee desk.Principal, query string, articleIDs []string, resolved bool) error {
	if employee.Role != desk.RoleEmployee {
		return desk.Errorf(desk.EForbidden, "only employees are offered articles")
	}
	query = strings.TrimSpace(query)
	if query == "" || utf8.RuneCountInString(query) > maxQueryRunes {
		return desk.Errorf(desk.EInvalid, "a query of 1 to %d characters is required", maxQueryRunes)
	}
	if err := desk.CheckText("query", query); err != nil {
		return err
	}
	if len(articleIDs) == 0 || len(articleIDs) > maxOffered {
		return desk.Errorf(desk.EInvalid, "article_ids lists the 1 to %d articles offered", maxOffered)
	}
	for _, id := range articleIDs {
		if !validID(id) {
			return desk.Errorf(desk.EInvalid, "%q is not an article id", id)
		}
	}
	return s.cfg.Store.RecordKBEvent(ctx, Event{At: s.cfg.Now().UTC(), Kind: EventDeflection, Query: query,
		ArticleIDs: slices.Compact(slices.Sorted(slices.Values(articleIDs))), Resolved: resolved})
}

// Stats returns the figures for [from, to); admins only.
func (s *Service) Stats(ctx context.Context, admin desk.Principal, from, to time.Time) (Stats, error) {
	if err := s.requireAdmin(ctx, admin, "read the knowledge base's figures"); err != nil {
		return Stats{}, err
	}
	if !to.After(from) {
		return Stats{}, desk.Errorf(desk.EInvalid, "from must be before to")
	}
	st, err := s.cfg.Store.KBStats(ctx, from.UTC(), to.UTC())
	if err != nil {
		return Stats{}, err
	}
	st.From, st.To = from.UTC(), to.UTC()
	if st.Deflections > 0 {
		st.DeflectionRate = float64(st.Resolved) / float64(st.Deflections)
	}
	if n := st.Helped + st.NotHelped; n > 0 {
		st.HelpedRatio = float64(st.Helped) / float64(n)
	}
	return st, nil
}
