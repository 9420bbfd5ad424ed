package conversation

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Satisfaction (CSAT): when an agent resolves a conversation the employee
// is asked to rate it, 1 to 5 with an optional comment. One rating per
// resolution, which they may change for a day; agents see it in the
// conversation, admins per agent.

// RatingWindow is how long a rating may still be changed.
const RatingWindow = 24 * time.Hour

const maxCommentRunes = 500

// Rate records the employee's rating of their conversation's last
// resolution, or changes it within RatingWindow.
func (s *Service) Rate(ctx context.Context, employee desk.Principal, conversationID string, score int, comment string) (desk.Rating, error) {
	comment = strings.TrimSpace(comment)
	switch {
	case employee.Role != desk.RoleEmployee:
		return desk.Rating{}, desk.Errorf(desk.EForbidden, "only the employee rates their conversation")
	case score < 1 || score > 5:
		return desk.Rating{}, desk.Errorf(desk.EInvalid, "score must be 1 to 5")
	case utf8.RuneCountInString(comment) > maxCommentRunes:
		return desk.Rating{}, desk.Errorf(desk.EInvalid, "a comment is at most %d characters", maxCommentRunes)
	}
	if err := desk.CheckText("comment", comment); err != nil {
		return desk.Rating{}, err
	}
	var out desk.Rating
	_, err := s.update(ctx, employee, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		c := w.c
		if c.Status != desk.StatusResolved || c.ResolvedAt == nil || c.AssigneeID == "" {
			return false, desk.Errorf(desk.EConflict, "only a conversation an agent resolved can be rated")
		}
		now := w.now
		r := desk.Rating{ConversationID: c.ID, ResolvedAt: *c.ResolvedAt, EmployeeID: employee.ID, AgentID: c.AssigneeID,
			Score: score, Comment: comment, CreatedAt: now, UpdatedAt: now}
		if old, err := w.tx.Rating(w.ctx, c.ID, *c.ResolvedAt); err == nil {
			if now.Sub(old.CreatedAt) > RatingWindow {
				return false, desk.Errorf(desk.EConflict, "a rating can be changed for %v only", RatingWindow)
			}
			r.CreatedAt = old.CreatedAt
		} else if desk.ErrorCode(err) != desk.ENotFound {
			return false, err
		}
		if err := w.tx.SaveRating(w.ctx, r); err != nil {
			return false, err
		}
		w.append(desk.EventRated, employee, map[string]any{"by": employee.ID, "score": score, "comment": comment, "agent_id": c.AssigneeID}, "")
		out = r
		return false, nil
	})
	return out, err
}

// RatingStats is what admins see of satisfaction over a period.
type RatingStats struct {
	From   time.Time    `json:"from"`
	To     time.Time    `json:"to"`
	Agents []RatedAgent `json:"agents"`
	// Teams: by the team each rated conversation was routed to.
	Teams    []desk.TeamRatings `json:"teams"`
	Overall  desk.AgentRatings  `json:"overall"`
	Resolved int                `json:"resolved"` // conversations agents resolved in the period
	Rate     float64            `json:"response_rate"`
}

// RatedAgent is one agent's ratings, with their name.
type RatedAgent struct {
	desk.AgentRatings
	Name string `json:"name"`
}

// Ratings sums up the ratings given in [from, to), for admins.
func (s *Service) Ratings(ctx context.Context, viewer desk.Principal, from, to time.Time) (RatingStats, error) {
	if viewer.Role != desk.RoleAgent {
		return RatingStats{}, desk.Errorf(desk.EForbidden, "only admins read ratings")
	}
	if a, err := s.agents.AgentByID(ctx, viewer.ID); err != nil {
		return RatingStats{}, err
	} else if !a.IsAdmin() {
		return RatingStats{}, desk.Errorf(desk.EForbidden, "only admins read ratings")
	}
	if !from.Before(to) {
		return RatingStats{}, desk.Errorf(desk.EInvalid, "from must be before to")
	}
	per, resolved, rated, err := s.store.RatingsSince(ctx, from, to)
	if err != nil {
		return RatingStats{}, err
	}
	st := RatingStats{From: from.UTC(), To: to.UTC(), Resolved: resolved, Agents: []RatedAgent{}}
	for _, r := range per {
		sum := 0
		for i, n := range r.Scores {
			r.Count += n
			sum += (i + 1) * n
			st.Overall.Scores[i] += n
		}
		if r.Count > 0 {
			r.Average = float64(sum) / float64(r.Count)
		}
		st.Overall.Count += r.Count
		st.Overall.Average += float64(sum)
		st.Agents = append(st.Agents, RatedAgent{AgentRatings: r, Name: s.agentName(ctx, r.AgentID)})
	}
	if st.Overall.Count > 0 {
		st.Overall.Average /= float64(st.Overall.Count)
	}
	if st.Teams, err = s.store.TeamRatingsSince(ctx, from, to); err != nil {
		return RatingStats{}, err
	}
	if st.Teams == nil {
		st.Teams = []desk.TeamRatings{}
	}
	for i, tr := range st.Teams {
		sum := 0
		for j, n := range tr.Scores {
			st.Teams[i].Count += n
			sum += (j + 1) * n
		}
		if st.Teams[i].Count > 0 {
			st.Teams[i].Average = float64(sum) / float64(st.Teams[i].Count)
		}
	}
	if resolved > 0 {
		st.Rate = float64(rated) / float64(resolved)
	}
	return st, nil
}
