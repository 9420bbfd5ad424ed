package conversation

import (
	"context"
	"encoding/json"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
)

// A desk whose conversations predate search (migration 00012) gets them
// indexed once: the first node to start with an empty index and stored
// conversations walks them all, subject lines, messages and notes. The
// counter "search-backfill" makes that one node only.

// BackfillSource is what the backfill reads (the SQL stores).
type BackfillSource interface {
	SearchIndexEmpty(ctx context.Context) (bool, error)
	ConversationIDsAfter(ctx context.Context, after string, limit int) ([]string, error)
}

// BackfillSearch indexes every stored conversation when the index is
// empty, and returns how many it indexed.
func (s *Service) BackfillSearch(ctx context.Context) (int, error) {
	src := s.backfill
	if src == nil {
		return 0, nil
	}
	if empty, err := src.SearchIndexEmpty(ctx); err != nil || !empty {
		return 0, err
	}
	if first, err := src.ConversationIDsAfter(ctx, "", 1); err != nil || len(first) == 0 {
		return 0, err // a new desk: nothing to catch up
	}
	var mine bool
	if err := s.store.Update(ctx, func(tx desk.ConversationTx) error {
		n, err := tx.NextNumber(ctx, "search-backfill")
		mine = n == 1
		return err
	}); err != nil || !mine {
		return 0, err
	}
	done := 0
	for after := ""; ; {
		ids, err := src.ConversationIDsAfter(ctx, after, 100)
		if err != nil || len(ids) == 0 {
			return done, err
		}
		for _, id := range ids {
			if err := s.backfillOne(ctx, id); err != nil {
				return done, err
			}
			done++
		}
		after = ids[len(ids)-1]
	}
}

func (s *Service) backfillOne(ctx context.Context, id string) error {
	c, err := s.store.Conversation(ctx, id)
	if err != nil {
		return err
	}
	name := ""
	if e, err := s.store.Employee(ctx, c.EmployeeID); err == nil {
		name = e.Name
	}
	type doc struct {
		seq   int64
		terms string
	}
	docs := []doc{{0, search.Terms(c.Subject, c.Ref, c.EmployeeID, name)}}
	for after := int64(0); ; {
		evs, err := s.store.Events(ctx, id, after, MaxPageSize, true)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Type != desk.EventMessage && ev.Type != desk.EventNote {
				continue
			}
			var m desk.Message
			json.Unmarshal(ev.Data, &m)
			texts := []string{m.Body}
			for _, a := range m.Attachments {
				texts = append(texts, a.Name)
			}
			docs = append(docs, doc{ev.Seq, search.Terms(texts...)})
		}
		if len(evs) < MaxPageSize {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	return s.store.Update(ctx, func(tx desk.ConversationTx) error {
		for _, d := range docs {
			if err := tx.Index(ctx, id, d.seq, d.terms); err != nil {
				return err
			}
		}
		return nil
	})
}
