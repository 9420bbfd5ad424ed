package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// pushTimeout bounds one push request, so a stalled server cannot hang a
// fan-out run.
const pushTimeout = 5 * time.Second

// pusher posts events for every agent to the server's push API over one
// keep-alive connection, as another system of the company would.
type pusher struct {
	url, key string
	hc       *http.Client
	body     []byte // request scratch, reused
}

func newPusher(wsURL, key string) *pusher {
	return &pusher{
		url: httpBase(wsURL) + "/api/push",
		key: key,
		hc: &http.Client{Timeout: pushTimeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 1, // requests go one at a time
			DisableCompression:  true,
		}},
	}
}

// pushAnswer is the push API's reply.
type pushAnswer struct {
	Delivered int  `json:"delivered"`
	Published bool `json:"published"`
}

// push sends event (a JSON object) to all agents and returns the answer.
func (p *pusher) push(ctx context.Context, event []byte) (pushAnswer, error) {
	p.body = append(append(append(p.body[:0], `{"to":{"all_agents":true},"event":`...), event...), '}')
	req, err := http.NewRequestWithContext(ctx, "POST", p.url, bytes.NewReader(p.body))
	if err != nil {
		return pushAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.key)
	resp, err := p.hc.Do(req)
	if err != nil {
		return pushAnswer{}, err
	}
	defer resp.Body.Close()
	var a pushAnswer
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		return a, &httpError{status: resp.StatusCode, code: e.Error.Code}
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("push answer: %w", err)
	}
	io.Copy(io.Discard, resp.Body) // the trailing newline, so the connection is reused
	return a, nil
}

// httpBase is the http(s) base URL on a ws(s) URL's host.
func httpBase(wsURL string) string {
	s := strings.TrimSuffix(wsURL, "/")
	if rest, ok := strings.CutPrefix(s, "wss://"); ok {
		return "https://" + rest
	}
	return "http://" + strings.TrimPrefix(s, "ws://")
}
