package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/attachment"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/firstline"
	"github.com/servicedesk/servicedesk/internal/kb"
)

// articleRequestBytes bounds an article's create or edit request: a body
// of kb.MaxBodyBytes, even with every character escaped in JSON, and the
// rest of the article.
const articleRequestBytes = 2*kb.MaxBodyBytes + 16<<10

// The knowledge base: agents write, admins publish (the service checks
// the admin role), employees read, rate and search published articles.
func (a *API) kbRoutes(mux *http.ServeMux) {
	agent, employee := desk.RoleAgent, desk.RoleEmployee
	mux.Handle("GET /api/kb/articles", a.authed(a.kbList, agent, employee))
	mux.Handle("GET /api/kb/articles/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		art, err := a.KB.Get(r.Context(), p, r.PathValue("id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		v, err := a.withPictures(r, art)
		a.answer(w, r, http.StatusOK, v, err)
	}, agent, employee))
	mux.Handle("POST /api/kb/articles", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in kb.Content
		if err := decodeJSONUpTo(w, r, &in, articleRequestBytes); err != nil {
			a.writeError(w, r, err)
			return
		}
		art, err := a.KB.Create(r.Context(), p, in)
		a.answer(w, r, http.StatusCreated, art, err)
	}, agent))
	mux.Handle("POST /api/kb/articles/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in kb.Content
		if err := decodeJSONUpTo(w, r, &in, articleRequestBytes); err != nil {
			a.writeError(w, r, err)
			return
		}
		art, err := a.KB.Edit(r.Context(), p, r.PathValue("id"), in)
		a.answer(w, r, http.StatusOK, art, err)
	}, agent))
	mux.Handle("POST /api/kb/articles/{id}/publish", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		art, err := a.KB.Publish(r.Context(), p, r.PathValue("id"))
		a.answer(w, r, http.StatusOK, art, err)
	}, agent))
	mux.Handle("POST /api/kb/articles/{id}/archive", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		art, err := a.KB.Archive(r.Context(), p, r.PathValue("id"))
		a.answer(w, r, http.StatusOK, art, err)
	}, agent))
	mux.Handle("GET /api/kb/articles/{id}/versions", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		vs, err := a.KB.Versions(r.Context(), p, r.PathValue("id"))
		a.answer(w, r, http.StatusOK, map[string]any{"versions": vs}, err)
	}, agent))
	mux.Handle("POST /api/kb/articles/{id}/feedback", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in struct {
			Helped *bool `json:"helped"`
		}
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		if in.Helped == nil {
			a.writeError(w, r, desk.Errorf(desk.EInvalid, "helped (true or false) is required"))
			return
		}
		if err := a.KB.Feedback(r.Context(), p, r.PathValue("id"), *in.Helped); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, employee))
	mux.Handle("GET /api/kb/search", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		q := r.URL.Query()
		limit, err := queryInt(q, "limit", 1, kb.MaxSearchLimit)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		hits, err := a.KB.Search(r.Context(), p, q.Get("q"), q.Get("category"), int(limit))
		a.answer(w, r, http.StatusOK, map[string]any{"results": hits}, err)
	}, agent, employee))
	mux.Handle("POST /api/kb/suggest", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in struct {
			Text string `json:"text"`
		}
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		hits, err := a.KB.Suggest(r.Context(), p, in.Text)
		a.answer(w, r, http.StatusOK, map[string]any{"results": hits}, err)
	}, agent))
	mux.Handle("POST /api/kb/deflections", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in struct {
			Query      string   `json:"query"`
			ArticleIDs []string `json:"article_ids"`
			Resolved   bool     `json:"resolved"`
		}
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := a.KB.RecordDeflection(r.Context(), p, in.Query, in.ArticleIDs, in.Resolved); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, employee))
	mux.Handle("GET /api/kb/synonyms", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		syn, err := a.KB.Synonyms(r.Context(), p)
		a.answer(w, r, http.StatusOK, syn, err)
	}, agent))
	mux.Handle("POST /api/kb/synonyms", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in struct {
			Groups [][]string `json:"groups"`
		}
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		syn, err := a.KB.SaveSynonyms(r.Context(), p, in.Groups)
		a.answer(w, r, http.StatusOK, syn, err)
	}, agent))
	mux.Handle("GET /api/kb/stats", a.authed(a.kbStats, agent))
}

// articleView is an article with a signed URL for each picture it shows
// (ids as the body names them: ![…](attachment:at_…)).
type articleView struct {
	kb.Article
	Images map[string]string `json:"images,omitempty"`
}

// withPictures signs the article's pictures for a reader the read rule
// already let in.
func (a *API) withPictures(r *http.Request, art kb.Article) (articleView, error) {
	v := articleView{Article: art}
	if a.Files == nil {
		return v, nil
	}
	ids, err := a.KB.Pictures(r.Context(), art)
	if err != nil || len(ids) == 0 {
		return v, err
	}
	v.Images = map[string]string{}
	for _, id := range ids {
		v.Images[id], _ = a.Files.URL(id, attachment.VariantFile)
	}
	return v, nil
}

// answer writes v with status, or err.
func (a *API) answer(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// kbList pages through articles, newest change first: ?status= (agents),
// ?category=, ?q= (in the title), ?cursor= (the last page's next_cursor)
// and ?limit=.
func (a *API) kbList(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 1, 200)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	f := kb.Filter{Status: q.Get("status"), Category: q.Get("category"), Q: q.Get("q"), Limit: int(limit)}
	if c := q.Get("cursor"); c != "" {
		if f.After, err = parseKBCursor(c); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if f.Limit == 0 {
		f.Limit = kb.DefaultListLimit
	}
	list, err := a.KB.List(r.Context(), p, f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	next := ""
	if len(list) == f.Limit {
		last := list[len(list)-1]
		next = strconv.FormatInt(last.UpdatedAt.UnixMilli(), 10) + "." + last.ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"articles": list, "next_cursor": next})
}

// parseKBCursor reads a next_cursor: the last article's updated_at in
// Unix milliseconds, a dot, and its id.
func parseKBCursor(c string) (*kb.Cursor, error) {
	ms, id, ok := strings.Cut(c, ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, desk.Errorf(desk.EInvalid, "cursor is not one this server gave")
	}
	return &kb.Cursor{UpdatedAt: time.UnixMilli(n).UTC(), ID: id}, nil
}

// kbStats answers admins with the knowledge base's figures for a period
// (?from=&to=, RFC 3339 or dates; the last 30 days by default).
func (a *API) kbStats(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	from, to, err := queryPeriod(r.URL.Query(), time.Now())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.KB.Stats(r.Context(), p, from, to)
	if err != nil || !a.Assistant.Enabled() {
		a.answer(w, r, http.StatusOK, st, err)
		return
	}
	// With an assistant, its figures ride along (the same admins read them).
	as, err := a.Assistant.Stats(r.Context(), from, to)
	a.answer(w, r, http.StatusOK, struct {
		kb.Stats
		Assistant firstline.Stats `json:"assistant"`
	}{st, as}, err)
}
