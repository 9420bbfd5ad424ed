package kb

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/kbsearch"
)

// RefreshInterval is how often a node reads the articles and synonyms
// other nodes changed.
const RefreshInterval = 5 * time.Second

// refreshOverlap: each refresh reads again what changed this long before
// the newest change it saw, so a save that committed after a later-stamped
// one, or was stamped by a node whose clock runs up to this much behind,
// is still picked up. What the index already holds is skipped by its
// stamp. Once the newest change is twice as old, nothing can still be
// arriving under it, and refreshes stop reading the window again.
const refreshOverlap = time.Minute

// loadPage is how many articles one read brings.
const loadPage = 500

// synonymsSetting names the stored synonym groups in the desk's settings.
const synonymsSetting = "kb_synonyms"

// Run loads the articles into the index, then brings in other nodes'
// changes every RefreshInterval until ctx ends. Searches answer from what
// is loaded so far meanwhile (10,000 articles take about two seconds).
// Call it once.
func (s *Service) Run(ctx context.Context) {
	if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
		s.cfg.Log.Warn("knowledge base load failed", "error", err)
	}
	close(s.loaded)
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("knowledge base refresh failed", "error", err)
			}
		}
	}
}

// Loaded is closed once Run's first load is done.
func (s *Service) Loaded() <-chan struct{} { return s.loaded }

// Refresh reads the articles changed since the last look (all of them
// the first time) and the synonyms, and updates the index.
func (s *Service) Refresh(ctx context.Context) error {
	s.mu.Lock()
	after, afterID := s.seenAt, s.seenID
	s.mu.Unlock()
	if !after.IsZero() && s.cfg.Now().Sub(after) < 2*refreshOverlap {
		after, afterID = after.Add(-refreshOverlap), ""
	}
	for {
		list, err := s.cfg.Store.ChangedArticles(ctx, after, afterID, loadPage)
		if err != nil {
			return err
		}
		for _, a := range list {
			s.apply(a)
		}
		if len(list) > 0 {
			last := list[len(list)-1]
			after, afterID = last.UpdatedAt, last.ID
			s.mu.Lock()
			if after.After(s.seenAt) || after.Equal(s.seenAt) && afterID > s.seenID {
				s.seenAt, s.seenID = after, afterID
			}
			s.mu.Unlock()
		}
		if len(list) < loadPage {
			break
		}
	}
	return s.loadSynonyms(ctx)
}

// apply brings the index up to a's state, unless it already reflects
// that state or a newer one. Only reads from the store move seenAt: this
// node's own clock never decides what others' changes it skips.
func (s *Service) apply(a Article) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.known[a.ID]; ok && !(a.UpdatedAt.After(k.updated) || a.UpdatedAt.Equal(k.updated) && a.Version > k.version) {
		return
	}
	s.known[a.ID] = stamp{a.UpdatedAt, a.Version, a.Status}
	if a.Status != Published {
		s.index.Delete(a.ID)
		return
	}
	// Put fails only without an id, which a stored article always has.
	_ = s.index.Put(kbsearch.Article{ID: a.ID, Title: a.Title, Body: a.Body, Tags: a.Tags, Category: a.Category})
}

// Span is a match within a snippet, in characters (as the conversation
// search counts): [Start, End).
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Hit is one published article found, best first.
type Hit struct {
	ID         string  `json:"id"`
	Title      string  `json:"title"`
	Category   string  `json:"category"`
	Score      float64 `json:"score"`
	Snippet    string  `json:"snippet"`
	Highlights []Span  `json:"highlights"`
}

// Search limits.
const (
	DefaultSearchLimit = 10
	MaxSearchLimit     = 50
	maxSuggestRunes    = 2000
	suggestLimit       = 5
)

// Search finds published articles for a question, ranked; employees and
// agents alike.
func (s *Service) Search(_ context.Context, p desk.Principal, query, category string, limit int) ([]Hit, error) {
	if p.Role != desk.RoleAgent && p.Role != desk.RoleEmployee {
		return nil, desk.Errorf(desk.EForbidden, "sign in to search the knowledge base")
	}
	query = strings.TrimSpace(query)
	if query == "" || utf8.RuneCountInString(query) > maxQueryRunes {
		return nil, desk.Errorf(desk.EInvalid, "q of 1 to %d characters is required", maxQueryRunes)
	}
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	return s.search(query, strings.TrimSpace(category), min(limit, MaxSearchLimit)), nil
}

// Suggest finds published articles for what an employee wrote in a
// conversation (its subject and first messages), for the agent to send.
// A long text is cut to its first maxSuggestRunes characters.
func (s *Service) Suggest(_ context.Context, agent desk.Principal, text string) ([]Hit, error) {
	if agent.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "suggestions are for agents")
	}
	if i := runeOffset(text, maxSuggestRunes); i < len(text) {
		text = text[:i]
	}
	if strings.TrimSpace(text) == "" {
		return nil, desk.Errorf(desk.EInvalid, "text is required")
	}
	return s.search(text, "", suggestLimit), nil
}

// Grounding returns the published articles, bodies included, that best
// match text (cut like Suggest's): all that the assistant may answer from
// (internal/firstline). Drafts and archived articles never reach it.
func (s *Service) Grounding(ctx context.Context, text string, limit int) ([]Article, error) {
	if i := runeOffset(text, maxSuggestRunes); i < len(text) {
		text = text[:i]
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var out []Article
	for _, h := range s.search(text, "", min(limit, MaxSearchLimit)) {
		a, err := s.article(ctx, h.ID)
		if desk.ErrorCode(err) == desk.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		if a.Status == Published {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Service) search(query, category string, limit int) []Hit {
	out := []Hit{}
	for _, r := range s.index.Search(query, kbsearch.Options{Category: category, Limit: limit}) {
		h := Hit{ID: r.ID, Title: r.Title, Category: r.Category, Score: r.Score, Snippet: r.Snippet, Highlights: []Span{}}
		for _, sp := range r.Highlights {
			h.Highlights = append(h.Highlights, Span{utf8.RuneCountInString(r.Snippet[:sp.Start]), utf8.RuneCountInString(r.Snippet[:sp.End])})
		}
		out = append(out, h)
	}
	return out
}

// runeOffset is the byte offset of the n-th character of s, or len(s).
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// Synonym limits: an admin's list, not a thesaurus.
const (
	maxSynonymGroups  = 500
	maxGroupPhrases   = 20
	maxSynonymPhrases = 32 // characters of one phrase
)

// Synonyms are the groups in force and whether they are the built-in
// defaults (no admin saved any yet).
type Synonyms struct {
	Groups  [][]string `json:"groups"`
	Default bool       `json:"default"`
}

// Synonyms returns the synonym groups in force; agents only.
func (s *Service) Synonyms(_ context.Context, agent desk.Principal) (Synonyms, error) {
	if agent.Role != desk.RoleAgent {
		return Synonyms{}, desk.Errorf(desk.EForbidden, "only agents read the synonyms")
	}
	s.mu.Lock()
	def := s.synAt.IsZero()
	s.mu.Unlock()
	return Synonyms{Groups: s.index.Synonyms(), Default: def}, nil
}

// SaveSynonyms replaces the synonym groups; admins only, audited. They
// apply at once on this node, on the others within RefreshInterval.
func (s *Service) SaveSynonyms(ctx context.Context, admin desk.Principal, groups [][]string) (Synonyms, error) {
	if err := s.requireAdmin(ctx, admin, "change the synonyms"); err != nil {
		return Synonyms{}, err
	}
	if len(groups) > maxSynonymGroups {
		return Synonyms{}, desk.Errorf(desk.EInvalid, "at most %d synonym groups", maxSynonymGroups)
	}
	clean := [][]string{}
	for _, g := range groups {
		if len(g) > maxGroupPhrases {
			return Synonyms{}, desk.Errorf(desk.EInvalid, "at most %d words in a synonym group", maxGroupPhrases)
		}
		var kept []string
		for _, w := range g {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			if utf8.RuneCountInString(w) > maxSynonymPhrases || strings.ContainsAny(w, "\n\r") || desk.CheckText("synonym", w) != nil {
				return Synonyms{}, desk.Errorf(desk.EInvalid, "a synonym is one line of at most %d characters", maxSynonymPhrases)
			}
			kept = append(kept, w)
		}
		if len(kept) > 0 {
			clean = append(clean, kept)
		}
	}
	s.synMu.Lock()
	defer s.synMu.Unlock()
	before := s.index.Synonyms()
	if err := s.index.SetSynonyms(clean); err != nil {
		// kbsearch says which group: fewer than two distinct words once cut.
		return Synonyms{}, desk.Wrap(desk.EInvalid, err, strings.TrimPrefix(err.Error(), "kbsearch: "))
	}
	raw, _ := json.Marshal(clean)
	at := s.cfg.Now().UTC().Truncate(time.Millisecond)
	if err := s.cfg.Store.SaveSetting(ctx, synonymsSetting, string(raw), at); err != nil {
		_ = s.index.SetSynonyms(before) // they applied before, so they apply again
		return Synonyms{}, err
	}
	s.mu.Lock()
	s.synAt = at
	s.mu.Unlock()
	return Synonyms{Groups: clean, Default: false}, s.record(ctx, admin, "kb.synonyms", synonymsSetting, before, clean)
}

// loadSynonyms applies the stored groups when they changed since the
// last look; with none stored the defaults stay.
func (s *Service) loadSynonyms(ctx context.Context) error {
	s.synMu.Lock()
	defer s.synMu.Unlock()
	raw, at, err := s.cfg.Store.Setting(ctx, synonymsSetting)
	if desk.ErrorCode(err) == desk.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	same := at.Equal(s.synAt)
	s.mu.Unlock()
	if same {
		return nil
	}
	var groups [][]string
	if err := json.Unmarshal([]byte(raw), &groups); err != nil {
		return desk.Wrap(desk.EInternal, err, "read the stored synonyms")
	}
	if err := s.index.SetSynonyms(groups); err != nil {
		// Stored by a node that judged them valid: keep what applies now.
		return desk.Wrap(desk.EInternal, err, "the stored synonyms")
	}
	s.mu.Lock()
	s.synAt = at
	s.mu.Unlock()
	return nil
}
