package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// TestAgentSearchPaths: an agent's search reads their own conversations
// whole when they are few, and otherwise walks the newest documents and
// asks the GIN index, as an admin's does. Both must find the same pages,
// with every filter and across pages, or which one a desk's size picks
// would change what an agent sees.
func TestAgentSearchPaths(t *testing.T) {
	skipWithoutPostgres(t)
	db := pgtest.Open(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	phrases := strings.Fields("打印机 脱机 邮箱 手机 收不到 VPN 连不上 证书 过期 蓝屏 重启 网络 很慢")
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	err := db.Update(ctx, func(tx desk.ConversationTx) error {
		for i := range 40 {
			id := fmt.Sprintf("cv_paths%04d", i)
			at := t0.Add(time.Duration(i) * time.Hour)
			c := desk.Conversation{ID: id, EmployeeID: "emp_1", Subject: "s", Category: []string{"network", "hardware"}[i%2],
				Status: desk.StatusOpen, AssigneeID: "agt_b", CreatedAt: at, UpdatedAt: at, Priority: []string{"normal", "high", "low"}[i%3],
				Type: "incident"}
			member, active := "agt_b", true
			switch i % 5 {
			case 0:
				member, c.AssigneeID = "agt_a", "agt_a"
			case 1:
				member, active = "agt_a", false // they were in it: still theirs to read
			case 2:
				c.Status, c.AssigneeID, c.QueuedAt = desk.StatusQueued, "", &at // anyone's
			}
			if err := tx.CreateConversation(ctx, c); err != nil {
				return err
			}
			if c.Status != desk.StatusQueued {
				if err := tx.SaveParticipant(ctx, id, desk.Participant{Role: desk.RoleAgent, ID: member, Active: active, JoinedAt: at}); err != nil {
					return err
				}
			}
			for seq := range 15 {
				words := make([]string, 2+rng.IntN(4))
				for w := range words {
					words[w] = phrases[rng.IntN(len(phrases))]
				}
				if err := tx.Index(ctx, id, int64(seq), search.Terms(strings.Join(words, ""))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every page of q, following BeforeID.
	pages := func(q desk.SearchQuery) [][]desk.SearchHit {
		t.Helper()
		var out [][]desk.SearchHit
		for {
			hits, err := db.Search(ctx, q)
			if err != nil {
				t.Fatalf("search %+v: %v", q, err)
			}
			if len(hits) == 0 {
				return out
			}
			out = append(out, hits)
			q.BeforeID = hits[len(hits)-1].DocID
		}
	}
	found := 0
	for _, text := range []string{"打印机 脱机", "vpn连不上", "蓝屏", "机", "证书过期", "不存在"} {
		parsed, _ := search.Parse(text)
		for _, f := range []desk.SearchQuery{
			{},
			{Statuses: []desk.Status{desk.StatusQueued}},
			{Category: "network", Priority: "high"},
			{AssigneeID: "agt_a"},
			{From: t0.Add(10 * time.Hour), To: t0.Add(30 * time.Hour)},
		} {
			q := f
			q.TS, q.AgentID, q.Limit = parsed.TSQuery(), "agt_a", 7
			db.SetAgentDocsMax(0)
			own := pages(q)
			db.SetAgentDocsMax(1)
			wide := pages(q)
			if !slices.EqualFunc(own, wide, slices.Equal) {
				t.Errorf("%q %+v: own conversations found %v, the desk-wide search %v", text, f, own, wide)
			}
			found += len(own)
			for _, page := range own {
				for _, h := range page {
					if n := h.ConversationID[len(h.ConversationID)-1] - '0'; n%5 > 2 {
						t.Errorf("%q: %s is not agt_a's to read", text, h.ConversationID)
					}
				}
			}
		}
	}
	if found < 10 {
		t.Errorf("only %d pages found in all: the cases test little", found)
	}
}
