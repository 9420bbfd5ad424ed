package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// restClient calls the server's JSON endpoints over keep-alive
// connections, as many at once as the setup runs workers.
type restClient struct {
	base string
	hc   *http.Client
}

func newRESTClient(base string, conns int, timeout time.Duration) *restClient {
	return &restClient{base: base, hc: &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
	}}
}

// httpError is a non-2xx answer, named by status and the server's error
// code so that many failures group into a short list.
type httpError struct {
	status int
	code   string
}

func (e *httpError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d %s", e.status, e.code)
}

// call sends in (when not nil) as JSON with token as bearer (when not
// empty) and decodes a 2xx answer into out (when not nil).
func (c *restClient) call(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		return &httpError{status: resp.StatusCode, code: e.Error.Code}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body) // so the connection is reused
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// agentLogin logs the agent in and returns its token and id.
func (c *restClient) agentLogin(ctx context.Context, username, password string) (token, agentID string, err error) {
	var out struct {
		Token   string `json:"token"`
		AgentID string `json:"agent_id"`
	}
	err = c.call(ctx, "POST", "/api/agents/login", "", map[string]string{"username": username, "password": password}, &out)
	return out.Token, out.AgentID, err
}

// mockLogin issues an employee token; the server must run with --dev.
func (c *restClient) mockLogin(ctx context.Context, employeeID, name string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := c.call(ctx, "POST", "/api/h5/mock-login", "", map[string]string{"employee_id": employeeID, "name": name}, &out)
	return out.Token, err
}

// createConversation starts the employee's conversation and returns its id.
func (c *restClient) createConversation(ctx context.Context, token, subject, body, clientMsgID string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := c.call(ctx, "POST", "/api/h5/conversations", token, map[string]string{
		"subject": subject, "category": "other", "body": body, "client_msg_id": clientMsgID,
	}, &out)
	return out.ID, err
}

// claim makes the agent the conversation's assignee and returns the seq
// of its last event, the claim.
func (c *restClient) claim(ctx context.Context, token, conversationID string) (int64, error) {
	var out struct {
		Seq int64 `json:"seq"`
	}
	err := c.call(ctx, "POST", "/api/conversations/"+conversationID+"/claim", token, nil, &out)
	return out.Seq, err
}

// storedEvent is the part of a stored event the persistence check reads.
type storedEvent struct {
	Seq  int64  `json:"seq"`
	Type string `json:"type"`
	Data struct {
		SenderType  string `json:"sender_type"`
		ClientMsgID string `json:"client_msg_id"`
	} `json:"data"`
}

// events reads a conversation's whole stored history, page by page.
func (c *restClient) events(ctx context.Context, token, conversationID string) ([]storedEvent, error) {
	const limit = 500
	var all []storedEvent
	after := int64(0)
	for {
		var page struct {
			Events       []storedEvent `json:"events"`
			NextAfterSeq int64         `json:"next_after_seq"`
		}
		path := fmt.Sprintf("/api/conversations/%s/events?after_seq=%d&limit=%d", conversationID, after, limit)
		if err := c.call(ctx, "GET", path, token, nil, &page); err != nil {
			return all, err
		}
		all = append(all, page.Events...)
		if len(page.Events) < limit || page.NextAfterSeq <= after {
			return all, nil
		}
		after = page.NextAfterSeq
	}
}
