// Package retention keeps personal data no longer than the desk needs it
// (PIPL): resolved conversations older than the configured number of days
// are deleted with everything kept about them, and an admin can export
// all that is stored about one employee, or erase it on request. Export
// and erasure are admin actions, audited.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Store reads what there is and deletes it.
type Store interface {
	ResolvedBefore(ctx context.Context, before time.Time, limit int) ([]string, error)
	EmployeeConversationIDs(ctx context.Context, employeeID string) ([]string, error)
	PurgeConversation(ctx context.Context, id string, resolvedBefore time.Time) error
	DeleteEmployee(ctx context.Context, id string) error
	Employee(ctx context.Context, id string) (desk.Employee, error)
	Conversation(ctx context.Context, id string) (desk.Conversation, error)
	Participants(ctx context.Context, conversationID string) ([]desk.Participant, error)
	Events(ctx context.Context, conversationID string, afterSeq int64, limit int, includePrivate bool) ([]desk.ConvEvent, error)
	ConversationAttachments(ctx context.Context, conversationID string, private bool) ([]desk.Attachment, error)
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
}

// Files deletes attachments' files and records (*attachment.Service).
type Files interface {
	Delete(ctx context.Context, as []desk.Attachment) error
}

// Tokens ends an erased employee's sessions.
type Tokens interface {
	DeleteAll(ctx context.Context, role desk.Role, id string) (int, error)
}

// Auditor records admin actions.
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

// Config wires a Service.
type Config struct {
	Store  Store
	Files  Files
	Tokens Tokens
	Audit  Auditor
	// Days: resolved conversations older than this are deleted; 0 keeps
	// everything.
	Days int
	Log  *slog.Logger
	Now  func() time.Time
}

// Service deletes old data and serves admins' export and erasure.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// every is how often each node looks for what has expired. Several nodes
// may look at once: deleting what is already gone is no error.
const every = time.Hour

// Sweep deletes the resolved conversations older than the retention, and
// returns how many.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	if s.cfg.Days <= 0 {
		return 0, nil
	}
	before := s.cfg.Now().AddDate(0, 0, -s.cfg.Days)
	total := 0
	for {
		ids, err := s.cfg.Store.ResolvedBefore(ctx, before, 100)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		for _, id := range ids {
			if err := s.purge(ctx, id, before); err != nil {
				return total, err
			}
			total++
		}
		if len(ids) < 100 {
			return total, nil
		}
	}
}

// purge deletes one conversation: its files first (a record without its
// file is harmless, a file without a record would be kept for ever).
func (s *Service) purge(ctx context.Context, id string, resolvedBefore time.Time) error {
	as, err := s.cfg.Store.ConversationAttachments(ctx, id, true)
	if err != nil {
		return err
	}
	if s.cfg.Files != nil && len(as) > 0 {
		if err := s.cfg.Files.Delete(ctx, as); err != nil {
			return err
		}
	}
	return s.cfg.Store.PurgeConversation(ctx, id, resolvedBefore)
}

// Run sweeps every hour until ctx ends.
func (s *Service) Run(ctx context.Context) {
	if s.cfg.Days <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("retention sweep", "error", err)
		} else if n > 0 {
			s.cfg.Log.Info("expired conversations deleted", "count", n, "retention_days", s.cfg.Days)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) requireAdmin(ctx context.Context, p desk.Principal) error {
	if p.Role == desk.RoleAgent {
		if a, err := s.cfg.Store.AgentByID(ctx, p.ID); err == nil && a.IsAdmin() {
			return nil
		} else if err != nil && desk.ErrorCode(err) != desk.ENotFound {
			return err
		}
	}
	return desk.Errorf(desk.EForbidden, "only admins export or erase personal data")
}

// Export is everything the desk keeps about one employee.
type Export struct {
	ExportedAt    time.Time      `json:"exported_at"`
	Employee      desk.Employee  `json:"employee"`
	Conversations []Conversation `json:"conversations"`
}

// Conversation is one of the employee's conversations, whole: notes
// included (they are about the employee too).
type Conversation struct {
	desk.Conversation
	Participants []desk.Participant `json:"participants"`
	Events       []desk.ConvEvent   `json:"events"`
	Attachments  []desk.Attachment  `json:"attachments"`
}

// Export gathers what is stored about employeeID, for an admin answering
// a request under PIPL.
func (s *Service) Export(ctx context.Context, admin desk.Principal, employeeID string) (Export, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return Export{}, err
	}
	out := Export{ExportedAt: s.cfg.Now().UTC(), Conversations: []Conversation{}}
	e, err := s.cfg.Store.Employee(ctx, employeeID)
	switch desk.ErrorCode(err) {
	case "":
		out.Employee = e
	case desk.ENotFound:
		out.Employee = desk.Employee{ID: employeeID}
	default:
		return Export{}, err
	}
	ids, err := s.cfg.Store.EmployeeConversationIDs(ctx, employeeID)
	if err != nil {
		return Export{}, err
	}
	for _, id := range ids {
		c, err := s.cfg.Store.Conversation(ctx, id)
		if err != nil {
			return Export{}, err
		}
		x := Conversation{Conversation: c}
		if x.Participants, err = s.cfg.Store.Participants(ctx, id); err != nil {
			return Export{}, err
		}
		for after := int64(0); ; {
			evs, err := s.cfg.Store.Events(ctx, id, after, 500, true)
			if err != nil {
				return Export{}, err
			}
			x.Events = append(x.Events, evs...)
			if len(evs) < 500 {
				break
			}
			after = evs[len(evs)-1].Seq
		}
		if x.Attachments, err = s.cfg.Store.ConversationAttachments(ctx, id, true); err != nil {
			return Export{}, err
		}
		out.Conversations = append(out.Conversations, x)
	}
	return out, s.cfg.Audit.Record(ctx, admin, "employee.export", employeeID, nil, map[string]int{"conversations": len(ids)})
}

// Erase deletes everything stored about employeeID: their conversations
// whatever their state, profile, sessions and files. It returns how many
// conversations went.
func (s *Service) Erase(ctx context.Context, admin desk.Principal, employeeID string) (int, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return 0, err
	}
	if err := desk.ValidateID(desk.RoleEmployee, employeeID); err != nil {
		return 0, desk.Errorf(desk.ENotFound, "employee not found")
	}
	ids, err := s.cfg.Store.EmployeeConversationIDs(ctx, employeeID)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.purge(ctx, id, time.Time{}); err != nil {
			return 0, err
		}
	}
	if err := s.cfg.Store.DeleteEmployee(ctx, employeeID); err != nil {
		return 0, err
	}
	if s.cfg.Tokens != nil {
		if _, err := s.cfg.Tokens.DeleteAll(ctx, desk.RoleEmployee, employeeID); err != nil {
			return 0, err
		}
	}
	return len(ids), s.cfg.Audit.Record(ctx, admin, "employee.erase", employeeID, map[string]int{"conversations": len(ids)}, nil)
}
