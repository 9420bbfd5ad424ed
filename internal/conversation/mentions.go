package conversation

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// maxMentions bounds the colleagues one note can call in: a note is for
// asking a few people, not for paging the desk.
const maxMentions = 10

// mentionPattern finds @username after a start, space or punctuation, so an
// e-mail address in a note (zhang@corp.com) names nobody.
var mentionPattern = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{1,64})`)

// mentioned returns the ids of the enabled agents a note names, the author
// aside, in order of first mention. An unknown name is plain text.
func (s *Service) mentioned(ctx context.Context, author desk.Principal, body string) ([]string, error) {
	var ids []string
	for _, m := range mentionPattern.FindAllStringSubmatch(body, -1) {
		name := strings.TrimRight(m[1], ".-")
		a, err := s.agents.AgentByUsername(ctx, name)
		switch {
		case desk.ErrorCode(err) == desk.ENotFound:
			continue
		case err != nil:
			return nil, err
		}
		if a.ID == author.ID || slices.Contains(ids, a.ID) {
			continue
		}
		if len(ids) == maxMentions {
			return nil, desk.Errorf(desk.EInvalid, "a note may mention at most %d colleagues", maxMentions)
		}
		ids = append(ids, a.ID)
	}
	return ids, nil
}

// mention appends the note, naming whom it mentions, and owes each of them
// a card.
func (w *eventWriter) mention(author desk.Principal, body string, mentioned []string, atts []desk.Attachment) desk.ConvEvent {
	ev := w.appendMessage(desk.EventNote, author, desk.Message{Body: body, Attachments: atts, Mentions: mentioned})
	for _, id := range mentioned {
		w.owe(agentPrincipal(id), desk.NotifyMentioned, ev.Seq)
	}
	return ev
}
