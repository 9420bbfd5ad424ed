package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/kb"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

const admin = "agt_boss"

// newKBServer is the conversation test server with the knowledge base
// and an admin.
func newKBServer(t *testing.T) *convServer {
	t.Helper()
	return newConvServerDB(t, func(api *API, db *sqlite.DB) {
		if err := db.CreateAgent(context.Background(), desk.Agent{ID: admin, Username: "boss", Name: "Boss", PasswordHash: "x", Role: desk.AgentRoleAdmin}); err != nil {
			t.Fatal(err)
		}
		s, err := kb.New(kb.Config{Store: db, Agents: db, Audit: audit.New(db, nil), Log: api.Log})
		if err != nil {
			t.Fatal(err)
		}
		api.KB = s
	})
}

type articleList struct {
	Articles   []kb.Article `json:"articles"`
	NextCursor string       `json:"next_cursor"`
}

type hits struct {
	Results []kb.Hit `json:"results"`
}

// TestKnowledgeBaseOverHTTP: an agent writes, an admin publishes, an
// employee finds, reads and rates the article, and says it settled their
// question; the admin reads the figures.
func TestKnowledgeBaseOverHTTP(t *testing.T) {
	cs := newKBServer(t)
	agent, boss, emp := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, admin), cs.token(t, desk.RoleEmployee, "zhangsan")

	draft := map[string]any{"title": "VPN 连不上怎么办", "body": "1. 检查网络\n2. 重新导入 **VPN 证书**", "category": "network", "tags": []string{"vpn"}}
	art := ok[kb.Article](t, cs, http.StatusCreated, "POST", "/api/kb/articles", agent, draft)
	if art.Status != kb.Draft || art.Version != 1 {
		t.Fatalf("created %+v", art)
	}
	if l := ok[articleList](t, cs, http.StatusOK, "GET", "/api/kb/articles", emp, nil); len(l.Articles) != 0 {
		t.Fatalf("an employee lists a draft: %+v", l)
	}
	if h := ok[hits](t, cs, http.StatusOK, "GET", "/api/kb/search?q=vpn", emp, nil); len(h.Results) != 0 {
		t.Fatalf("an employee finds a draft: %+v", h)
	}
	ok[kb.Article](t, cs, http.StatusOK, "POST", "/api/kb/articles/"+art.ID+"/publish", boss, nil)

	h := ok[hits](t, cs, http.StatusOK, "GET", "/api/kb/search?q="+"vpn%E8%BF%9E%E4%B8%8D%E4%B8%8A", emp, nil) // vpn连不上
	if len(h.Results) != 1 || h.Results[0].ID != art.ID || len(h.Results[0].Highlights) == 0 {
		t.Fatalf("search: %+v", h)
	}
	read := ok[kb.Article](t, cs, http.StatusOK, "GET", "/api/kb/articles/"+art.ID, emp, nil)
	if read.Body != draft["body"] || read.Views != 1 || read.AuthorID != "" {
		t.Errorf("the employee reads %+v", read)
	}
	if resp, raw := cs.call(t, "POST", "/api/kb/articles/"+art.ID+"/feedback", emp, map[string]bool{"helped": true}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("feedback: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := cs.call(t, "POST", "/api/kb/deflections", emp, map[string]any{"query": "vpn连不上", "article_ids": []string{art.ID}, "resolved": true}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deflection: %d %s", resp.StatusCode, raw)
	}
	st := ok[kb.Stats](t, cs, http.StatusOK, "GET", "/api/kb/stats", boss, nil)
	if st.Deflections != 1 || st.DeflectionRate != 1 || st.Views != 1 || st.HelpedRatio != 1 {
		t.Errorf("stats %+v", st)
	}

	// An edit is a new version; a big body (a 60 KiB one, every character
	// escaped in JSON) gets through.
	draft["body"], draft["version"] = strings.Repeat(`"`, 60<<10), 1
	edited := ok[kb.Article](t, cs, http.StatusOK, "POST", "/api/kb/articles/"+art.ID, agent, draft)
	if edited.Version != 2 {
		t.Fatalf("edited %+v", edited)
	}
	vs := ok[struct{ Versions []kb.Version }](t, cs, http.StatusOK, "GET", "/api/kb/articles/"+art.ID+"/versions", agent, nil)
	if len(vs.Versions) != 2 || vs.Versions[0].Version != 2 {
		t.Errorf("versions %+v", vs)
	}
	refused(t, cs, http.StatusConflict, desk.EConflict, "POST", "/api/kb/articles/"+art.ID, agent, draft) // still says version 1

	// Lists page by cursor.
	ok[kb.Article](t, cs, http.StatusCreated, "POST", "/api/kb/articles", agent, map[string]any{"title": "打印机脱机", "body": "x", "category": "hardware"})
	first := ok[articleList](t, cs, http.StatusOK, "GET", "/api/kb/articles?limit=1", agent, nil)
	if len(first.Articles) != 1 || first.NextCursor == "" || first.Articles[0].Body != "" {
		t.Fatalf("page 1: %+v", first)
	}
	second := ok[articleList](t, cs, http.StatusOK, "GET", "/api/kb/articles?limit=1&cursor="+first.NextCursor, agent, nil)
	if len(second.Articles) != 1 || second.Articles[0].ID == first.Articles[0].ID {
		t.Fatalf("page 2: %+v", second)
	}

	syn := ok[kb.Synonyms](t, cs, http.StatusOK, "POST", "/api/kb/synonyms", boss, map[string]any{"groups": [][]string{{"vpn", "梯子"}}})
	if syn.Default || len(syn.Groups) != 1 {
		t.Errorf("synonyms saved: %+v", syn)
	}
	if syn := ok[kb.Synonyms](t, cs, http.StatusOK, "GET", "/api/kb/synonyms", agent, nil); len(syn.Groups) != 1 {
		t.Errorf("synonyms read: %+v", syn)
	}
}

// TestKnowledgeBaseRefusals: who may not do what, and what is malformed.
func TestKnowledgeBaseRefusals(t *testing.T) {
	cs := newKBServer(t)
	agent, boss, emp := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, admin), cs.token(t, desk.RoleEmployee, "zhangsan")
	art := ok[kb.Article](t, cs, http.StatusCreated, "POST", "/api/kb/articles", agent,
		map[string]any{"title": "VPN", "body": "x", "category": "network"})
	path := "/api/kb/articles/" + art.ID
	for _, c := range []struct {
		status       int
		code         string
		method, path string
		token        string
		body         any
	}{
		{401, desk.EUnauthorized, "GET", "/api/kb/articles", "", nil},
		{401, desk.EUnauthorized, "GET", "/api/kb/search?q=vpn", "bogus", nil},
		{403, desk.EForbidden, "POST", "/api/kb/articles", emp, map[string]any{"title": "x", "body": "y", "category": "network"}},
		{403, desk.EForbidden, "POST", path + "/publish", agent, nil},
		{403, desk.EForbidden, "POST", path + "/archive", emp, nil},
		{403, desk.EForbidden, "GET", path + "/versions", emp, nil},
		{403, desk.EForbidden, "POST", path + "/feedback", agent, map[string]bool{"helped": true}},
		{403, desk.EForbidden, "POST", "/api/kb/deflections", agent, map[string]any{"query": "x", "article_ids": []string{art.ID}}},
		{403, desk.EForbidden, "GET", "/api/kb/stats", agent, nil},
		{403, desk.EForbidden, "GET", "/api/kb/synonyms", emp, nil},
		{403, desk.EForbidden, "POST", "/api/kb/synonyms", agent, map[string]any{"groups": [][]string{{"a", "b"}}}},
		{403, desk.EForbidden, "POST", "/api/kb/suggest", emp, map[string]string{"text": "vpn"}},
		{404, desk.ENotFound, "GET", path, emp, nil}, // a draft
		{404, desk.ENotFound, "GET", "/api/kb/articles/kb_0123456789abcdef", agent, nil},
		{404, desk.ENotFound, "POST", path + "/feedback", emp, map[string]bool{"helped": true}},
		{400, desk.EInvalid, "POST", "/api/kb/articles", agent, map[string]any{"title": "", "body": "y", "category": "network"}},
		{400, desk.EInvalid, "POST", "/api/kb/articles", agent, map[string]any{"title": "x", "body": "y", "category": "weather"}},
		{400, desk.EInvalid, "POST", "/api/kb/articles", agent, map[string]any{"title": "x", "body": strings.Repeat("a", kb.MaxBodyBytes+1), "category": "network"}},
		{400, desk.EInvalid, "POST", path, agent, "not json"},
		{400, desk.EInvalid, "POST", path + "/feedback", emp, map[string]any{}},
		{400, desk.EInvalid, "GET", "/api/kb/search?q=", emp, nil},
		{400, desk.EInvalid, "GET", "/api/kb/search?q=vpn&limit=1000", emp, nil},
		{400, desk.EInvalid, "GET", "/api/kb/articles?cursor=nonsense", agent, nil},
		{400, desk.EInvalid, "GET", "/api/kb/articles?status=deleted", agent, nil},
		{400, desk.EInvalid, "GET", "/api/kb/stats?from=yesterday", boss, nil},
		{400, desk.EInvalid, "POST", "/api/kb/synonyms", boss, map[string]any{"groups": [][]string{{"only-one"}}}},
		{400, desk.EInvalid, "POST", "/api/kb/deflections", emp, map[string]any{"query": "", "article_ids": []string{art.ID}}},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			refused(t, cs, c.status, c.code, c.method, c.path, c.token, c.body)
		})
	}
}
