package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/storetest"
)

// TestWriteCacheStaysTrue changes conversations and participants every way
// the desk does, and some it should not, and after each compares what a
// write transaction reads (through the cache) with what the read pool
// reads from the file.
func TestWriteCacheStaysTrue(t *testing.T) {
	ctx := context.Background()
	errRefused := desk.Errorf(desk.EConflict, "refused")
	at := time.Date(2025, 3, 2, 9, 0, 0, 123_000_000, time.UTC)
	// change edits the open conversation cnv_2 and both its participants,
	// and adds one.
	change := func(tx desk.ConversationTx, status desk.Status) error {
		c, err := tx.ConversationForUpdate(ctx, "cnv_2")
		if err != nil {
			return err
		}
		c.Status, c.Seq, c.UpdatedAt, c.QueuedAt = status, c.Seq+1, at.Add(456*time.Microsecond), &at
		c.Tags, c.Priority, c.PublicSeq = []string{"vpn", "网络"}, "high", c.Seq
		if err := tx.SaveConversation(ctx, c); err != nil {
			return err
		}
		if err := tx.SaveParticipant(ctx, "cnv_2", desk.Participant{Role: desk.RoleAgent, ID: "agt_02", Active: true, JoinedAt: at}); err != nil {
			return err
		}
		ps, err := tx.Participants(ctx, "cnv_2")
		if err != nil {
			return err
		}
		for _, p := range ps {
			p.Active, p.LastReadSeq, p.JoinedAt = !p.Active, c.Seq, at // a join time is never rewritten
			if err := tx.SaveParticipant(ctx, "cnv_2", p); err != nil {
				return err
			}
		}
		// One clock starts, then one moves.
		if err := tx.SaveSLAClock(ctx, "cnv_2", desk.SLAClock{Kind: "resolution", Data: []byte(`{}`), State: "running"}); err != nil {
			return err
		}
		if _, err := tx.SLAClocks(ctx, "cnv_2"); err != nil {
			return err
		}
		due := at.Add(time.Hour + 789*time.Microsecond)
		return tx.SaveSLAClock(ctx, "cnv_2", desk.SLAClock{Kind: "first_response", Data: []byte(`{"v":2}`), DueAt: &due, State: "met"})
	}
	var path string // the subtest's database file
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, db *DB) error
	}{
		{"committed change", func(t *testing.T, db *DB) error {
			return db.Update(ctx, func(tx desk.ConversationTx) error { return change(tx, desk.StatusPending) })
		}},
		{"a message's save (seqs and time only)", func(t *testing.T, db *DB) error {
			return db.Update(ctx, func(tx desk.ConversationTx) error {
				c, err := tx.ConversationForUpdate(ctx, "cnv_2")
				if err != nil {
					return err
				}
				c.Seq, c.PublicSeq, c.BroadcastSeq, c.UpdatedAt = c.Seq+1, c.Seq+1, c.Seq+1, at.Add(time.Minute)
				return tx.SaveConversation(ctx, c)
			})
		}},
		{"savepoint rolled back", func(t *testing.T, db *DB) error {
			return db.Update(ctx, func(tx desk.ConversationTx) error {
				before, err := tx.ConversationForUpdate(ctx, "cnv_2")
				if err != nil {
					return err
				}
				if err := tx.Savepoint(ctx, func() error {
					if err := change(tx, desk.StatusResolved); err != nil {
						return err
					}
					return errRefused
				}); !errors.Is(err, errRefused) {
					t.Errorf("Savepoint: %v, want the command's error", err)
				}
				if after, err := tx.ConversationForUpdate(ctx, "cnv_2"); err != nil || !reflect.DeepEqual(after, before) {
					t.Errorf("after rollback to savepoint: %+v, %v; want %+v", after, err, before)
				}
				return nil
			})
		}},
		{"transaction rolled back", func(t *testing.T, db *DB) error {
			err := db.Update(ctx, func(tx desk.ConversationTx) error {
				if err := change(tx, desk.StatusResolved); err != nil {
					return err
				}
				return errRefused
			})
			if !errors.Is(err, errRefused) {
				t.Errorf("Update: %v, want fn's error", err)
			}
			return nil
		}},
		{"caller changes its copies", func(t *testing.T, db *DB) error {
			if err := db.Update(ctx, func(tx desk.ConversationTx) error { return change(tx, desk.StatusQueued) }); err != nil {
				return err
			}
			return db.Update(ctx, func(tx desk.ConversationTx) error {
				c, err := tx.ConversationForUpdate(ctx, "cnv_2")
				if err != nil {
					return err
				}
				c.Tags = append(c.Tags[:0], "changed")
				*c.QueuedAt = at.Add(time.Hour)
				// A new participant: the list is read again, then found.
				if err := tx.SaveParticipant(ctx, "cnv_2", desk.Participant{Role: desk.RoleAgent, ID: "agt_03", JoinedAt: at}); err != nil {
					return err
				}
				for range 2 {
					ps, err := tx.Participants(ctx, "cnv_2")
					if err != nil {
						return err
					}
					ps[0].Name, ps[0].LastReadSeq = "changed", 99
				}
				return nil
			})
		}},
		{"agent renamed", func(t *testing.T, db *DB) error {
			return db.SetAgentName(ctx, "agt_01", "李四（新）")
		}},
		{"employee renamed", func(t *testing.T, db *DB) error {
			return db.Update(ctx, func(tx desk.ConversationTx) error {
				return tx.SaveEmployee(ctx, desk.Employee{ID: "emp_0001", Name: "张三（新）", UpdatedAt: at})
			})
		}},
		{"employee deleted", func(t *testing.T, db *DB) error {
			return db.DeleteEmployee(ctx, "emp_0001")
		}},
		{"conversation purged", func(t *testing.T, db *DB) error {
			return db.PurgeConversation(ctx, "cnv_2", time.Time{})
		}},
		{"another connection wrote", func(t *testing.T, db *DB) error {
			other, err := sql.Open("sqlite", path+"?"+pragmas)
			if err != nil {
				return err
			}
			defer other.Close()
			_, err = other.ExecContext(ctx, `UPDATE conversations SET status = 'resolved', seq = seq + 5 WHERE id = 'cnv_2'`)
			if err == nil {
				_, err = other.ExecContext(ctx, `UPDATE participants SET active = 0 WHERE conversation_id = 'cnv_2'`)
			}
			return err
		}},
		{"the write connection wrote outside Update", func(t *testing.T, db *DB) error {
			_, err := db.write.ExecContext(ctx, `UPDATE participants SET last_read_seq = 42 WHERE conversation_id = 'cnv_2'`)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path = filepath.Join(t.TempDir(), "desk.db")
			db := openTest(t, path)
			if err := db.CreateAgent(ctx, desk.Agent{ID: "agt_01", Username: "li", Name: "李四", PasswordHash: "x"}); err != nil {
				t.Fatal(err)
			}
			storetest.SeedConversations(t, db, []string{"cnv_1", "cnv_2"}, 2)
			if err := db.Update(ctx, func(tx desk.ConversationTx) error {
				if err := tx.SaveSLAClock(ctx, "cnv_2", desk.SLAClock{Kind: "first_response", Data: []byte(`{"v":1}`), DueAt: &at}); err != nil {
					return err
				}
				return tx.SaveEmployee(ctx, desk.Employee{ID: "emp_0001", Name: "张三", UpdatedAt: at})
			}); err != nil {
				t.Fatal(err)
			}
			compareWriteCache(t, db, "cnv_2")
			if _, ok := db.cache.parts["cnv_2"]; !ok {
				t.Fatal("cnv_2's participants were not cached")
			}
			if _, ok := db.cache.clocks["cnv_2"]; !ok {
				t.Fatal("cnv_2's clocks were not cached")
			}
			if err := tc.do(t, db); err != nil {
				t.Fatal(err)
			}
			compareWriteCache(t, db, "cnv_2")
			compareWriteCache(t, db, "cnv_1")
		})
	}
}

// compareWriteCache reads conversation id and its participants in a write
// transaction and from the read pool, and fails if they differ.
func compareWriteCache(t *testing.T, db *DB, id string) {
	t.Helper()
	ctx := context.Background()
	var c desk.Conversation
	var ps []desk.Participant
	var clocks, wantClocks []desk.SLAClock
	var cErr error
	if err := db.Update(ctx, func(tx desk.ConversationTx) error {
		c, cErr = tx.ConversationForUpdate(ctx, id)
		var err error
		if ps, err = tx.Participants(ctx, id); err != nil {
			return err
		}
		if clocks, err = tx.SLAClocks(ctx, id); err != nil {
			return err
		}
		wantClocks, err = tx.(*convTx).readSLAClocks(ctx, id) // past the cache
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(clocks, wantClocks) {
		t.Errorf("write transaction reads the clocks of %s as\n%+v, the file has\n%+v", id, clocks, wantClocks)
	}
	want, wantErr := db.Conversation(ctx, id)
	if desk.ErrorCode(cErr) != desk.ErrorCode(wantErr) || !reflect.DeepEqual(c, want) {
		t.Errorf("write transaction reads conversation %s as\n%+v (%v), the file has\n%+v (%v)", id, c, cErr, want, wantErr)
	}
	wantPs, err := db.Participants(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ps, wantPs) {
		t.Errorf("write transaction reads participants of %s as\n%+v, the file has\n%+v", id, ps, wantPs)
	}
}
