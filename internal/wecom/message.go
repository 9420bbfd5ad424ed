package wecom

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Limits of a textcard (文本卡片消息): title 128 bytes, description 512
// bytes, url 2048 bytes, btntxt 4 characters; duplicate_check_interval at
// most 4 hours.
const (
	maxCardTitle       = 128
	maxCardDescription = 512
	maxCardURL         = 2048
	maxCardButton      = 4
	maxDuplicateWindow = 4 * time.Hour
	// DefaultDuplicateWindow is WeCom's own default duplicate_check_interval.
	DefaultDuplicateWindow = 1800 * time.Second
)

// TextCard is an app message with a title, a short text and a link, sent to
// one member. Title and Description are cut to WeCom's limits on a
// character boundary; Description may use WeCom's <div class="gray"> style
// classes, and nothing else of HTML.
type TextCard struct {
	ToUser      string
	Title       string
	Description string
	URL         string // the deep link, an absolute https URL on the desk
	ButtonText  string // "详情" when empty (WeCom's default)
	// DuplicateWindow turns on WeCom's duplicate check: the same card (the
	// same request JSON) sent again within the window is not delivered
	// twice. Zero means DefaultDuplicateWindow; negative turns it off.
	DuplicateWindow time.Duration
}

type textCardRequest struct {
	ToUser   string `json:"touser"`
	MsgType  string `json:"msgtype"`
	AgentID  int64  `json:"agentid"`
	TextCard struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		BtnTxt      string `json:"btntxt,omitempty"`
	} `json:"textcard"`
	EnableDuplicateCheck   int   `json:"enable_duplicate_check"`
	DuplicateCheckInterval int64 `json:"duplicate_check_interval,omitempty"`
}

// SendTextCard sends card (POST /cgi-bin/message/send) and returns WeCom's
// msgid. A recipient who left or is outside the app's visible range is
// ErrRecipientGone (81013, or the userid back in invaliduser). WeCom keeps
// at most 30 messages per member per minute and drops the rest silently:
// pacing is the caller's job. A send whose answer was lost is tried again,
// and the duplicate check is what keeps that from delivering twice.
func (c *Client) SendTextCard(ctx context.Context, card TextCard) (string, error) {
	if card.ToUser == "" || strings.Contains(card.ToUser, "|") || card.ToUser == "@all" {
		return "", desk.Errorf(desk.EInvalid, "a textcard goes to exactly one member")
	}
	if card.Title == "" || card.Description == "" || card.URL == "" {
		return "", desk.Errorf(desk.EInvalid, "a textcard needs a title, a description and a URL")
	}
	if len(card.URL) > maxCardURL {
		return "", desk.Errorf(desk.EInvalid, "the textcard URL is longer than %d bytes", maxCardURL)
	}
	var req textCardRequest
	req.ToUser, req.MsgType, req.AgentID = card.ToUser, "textcard", c.cfg.AgentID
	req.TextCard.Title = truncate(card.Title, maxCardTitle)
	req.TextCard.Description = truncate(card.Description, maxCardDescription)
	req.TextCard.URL = card.URL
	if utf8.RuneCountInString(card.ButtonText) <= maxCardButton {
		req.TextCard.BtnTxt = card.ButtonText
	}
	if card.DuplicateWindow >= 0 {
		w := card.DuplicateWindow
		if w == 0 {
			w = DefaultDuplicateWindow
		}
		w = min(max(w, time.Second), maxDuplicateWindow)
		req.EnableDuplicateCheck, req.DuplicateCheckInterval = 1, int64(w/time.Second)
	}
	var out struct {
		InvalidUser string `json:"invaliduser"`
		MsgID       string `json:"msgid"`
	}
	if err := c.call(ctx, http.MethodPost, "/cgi-bin/message/send", nil, req, &out); err != nil {
		return "", err
	}
	// WeCom lowercases the userids it returns.
	if out.InvalidUser != "" && slices.Contains(strings.Split(out.InvalidUser, "|"), strings.ToLower(card.ToUser)) {
		return "", desk.Wrap(desk.ENotFound, ErrRecipientGone, "the person is no longer reachable through the WeCom app")
	}
	return out.MsgID, nil
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
