package conversation

import (
	"context"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// EmployeeView is an employee as an agent sees them beside a conversation:
// their profile from the directory, whether WeCom still reaches them, and
// their earlier conversations that this agent may open.
type EmployeeView struct {
	desk.Employee
	// Unreachable: WeCom no longer delivers cards to them (they left, or
	// are outside the app's range).
	Unreachable   bool      `json:"unreachable"`
	Conversations []Summary `json:"conversations"`
	// Others counts their conversations this agent may not open (handled
	// by colleagues): the access rule holds, the history's size shows.
	Others int `json:"others"`
}

// maxEmployeeHistory bounds the conversations an employee view lists.
const maxEmployeeHistory = 50

// Employee returns what agents see of an employee. An employee who never
// signed in (only known from conversations) has an empty profile.
func (s *Service) Employee(ctx context.Context, viewer desk.Principal, id string) (EmployeeView, error) {
	if viewer.Role != desk.RoleAgent {
		return EmployeeView{}, desk.Errorf(desk.EForbidden, "only agents look up employees")
	}
	if err := desk.ValidateID(desk.RoleEmployee, id); err != nil {
		return EmployeeView{}, desk.Errorf(desk.ENotFound, "employee not found")
	}
	v := EmployeeView{Conversations: []Summary{}}
	e, err := s.store.Employee(ctx, id)
	switch desk.ErrorCode(err) {
	case "":
		v.Employee = e
	case desk.ENotFound:
		v.Employee = desk.Employee{ID: id}
	default:
		return EmployeeView{}, err
	}
	if s.reach != nil {
		if v.Unreachable, err = s.reach.NotificationsBlocked(ctx, desk.Principal{Role: desk.RoleEmployee, ID: id}); err != nil {
			return EmployeeView{}, err
		}
	}
	rows, err := s.store.ListConversations(ctx, desk.ConversationQuery{EmployeeID: id, Viewer: viewer, Limit: maxEmployeeHistory})
	if err != nil {
		return EmployeeView{}, err
	}
	if len(rows) == 0 && v.Name == "" {
		return EmployeeView{}, desk.Errorf(desk.ENotFound, "employee not found")
	}
	for _, r := range rows {
		if _, _, err := s.readable(ctx, viewer, r.ID); err != nil {
			if desk.ErrorCode(err) != desk.EForbidden {
				return EmployeeView{}, err
			}
			v.Others++
			continue
		}
		v.Conversations = append(v.Conversations, Summary{ConversationSummary: r})
	}
	return v, nil
}

// StoredEmployee returns the employee's stored profile as it is, for the
// sign-in that keeps it fresh (no access rule: the caller is the desk).
func (s *Service) StoredEmployee(ctx context.Context, id string) (desk.Employee, error) {
	return s.store.Employee(ctx, id)
}
