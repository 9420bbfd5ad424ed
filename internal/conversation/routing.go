package conversation

import (
	"context"
	"slices"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Routing: a conversation whose category routes to a team with automatic
// routing goes, in its create transaction, to the team member who is
// online (not away) with the fewest unresolved conversations, below the
// team's capacity; ties go to the first by id. With nobody free it waits
// in the queue, and the dispatcher assigns it the moment someone is (an
// agent coming online, resolving, or going below capacity), oldest first.
// Agents can still claim by hand.
//
// Capacity holds across writers and nodes: AgentLoad locks the agent while
// counting, and candidates are locked in id order, so two assignments at
// once take turns instead of both seeing room for one more.

// dispatchEvery bounds how long a waiting conversation can miss an agent
// becoming free when no event told the dispatcher.
const dispatchEvery = 3 * time.Second

// dispatchGap is the least time between two dispatches. Every agent
// socket that opens asks for one (room for a waiting conversation), and
// each reads the whole queue: at thousands of handshakes a second the
// dispatcher ran back to back and took a tenth of the gateway's CPU. A
// quarter second's wait for an assignment costs nobody anything.
const dispatchGap = 250 * time.Millisecond

// assign gives the conversation to a free member of team, if any, and
// reports whether it did.
func (w *eventWriter) assign(team desk.Team) (bool, error) {
	if team.Routing != desk.RoutingAuto || len(team.Members) == 0 {
		return false, nil
	}
	statuses, err := w.s.presence.Statuses(w.ctx)
	if err != nil {
		return false, nil // presence unknown: leave it to the queue
	}
	members := slices.Clone(team.Members)
	slices.Sort(members)
	best, bestLoad := "", 0
	for _, id := range members {
		if statuses[id] != desk.PresenceOnline {
			continue
		}
		load, err := w.tx.AgentLoad(w.ctx, id)
		if err != nil {
			return false, err
		}
		if load < team.Capacity && (best == "" || load < bestLoad) {
			best, bestLoad = id, load
		}
	}
	if best == "" {
		return false, nil
	}
	agent := desk.Principal{Role: desk.RoleAgent, ID: best}
	w.c.Status, w.c.AssigneeID = desk.StatusOpen, best
	w.s.waits.claimed(w.now)
	w.join(agent)
	ev := w.append(desk.EventClaimed, agent, map[string]any{"agent_id": best, "agent_name": w.s.agentName(w.ctx, best), "auto": true}, "")
	w.oweEmployee(desk.NotifyJoined, ev.Seq)
	return true, nil
}

// DispatchSoon asks the dispatcher to look at the waiting conversations:
// an agent came online, resolved, or left one. It never blocks.
func (s *Service) DispatchSoon() {
	select {
	case s.dispatchDirty <- struct{}{}:
	default:
	}
}

func (s *Service) runDispatcher(ctx context.Context) {
	t := time.NewTicker(dispatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.dispatchDirty:
		}
		if _, err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("dispatch queued conversations", "error", err)
		}
		select { // requests meanwhile are kept (dispatchDirty holds one)
		case <-ctx.Done():
			return
		case <-time.After(dispatchGap):
		}
	}
}

// Dispatch assigns waiting conversations of automatic teams to free
// members, oldest first, and returns how many it assigned.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	queue, err := s.store.Queue(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	full := map[string]bool{} // teams found with nobody free this round
	for _, c := range queue {
		if c.TeamID == "" || full[c.TeamID] {
			continue
		}
		done := false
		_, err := s.update(ctx, desk.Principal{Role: desk.RoleAgent}, c.ID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
			if w.c.Status != desk.StatusQueued {
				return false, nil
			}
			team, err := w.tx.TeamForCategory(w.ctx, w.c.Category)
			if err != nil || team.ID != w.c.TeamID {
				return false, nil
			}
			done, err = w.assign(team)
			return done, err
		})
		if err != nil {
			return n, err
		}
		if done {
			n++
		} else {
			full[c.TeamID] = true
		}
	}
	return n, nil
}
