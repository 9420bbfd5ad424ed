package assistantfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, s *Server, auth string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.BaseURL()+"/chat/completions", bytes.NewReader(b))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestFakeChecksTheKeyAndRecords(t *testing.T) {
	s := New("sk-right0123456789")
	defer s.Close()
	body := map[string]any{"model": "deepseek-chat", "stream": true, "messages": []Message{{Role: "user", Content: "你好"}}}

	status, out := post(t, s, "", body)
	if status != 401 || !strings.Contains(out, `"code":null`) {
		t.Errorf("no key: %d %s", status, out)
	}
	status, out = post(t, s, "Bearer sk-wrong0123456789", body)
	if status != 401 || !strings.Contains(out, `"code":"invalid_api_key"`) || strings.Contains(out, "sk-wrong0123456789") {
		t.Errorf("wrong key: %d %s", status, out)
	}
	s.SetHandler(func(r Request) Reply { return Stream("按请求", "选择") })
	status, out = post(t, s, "Bearer sk-right0123456789", body)
	if status != 200 || !strings.HasSuffix(out, "data: [DONE]\n\n") || !strings.Contains(out, `"object":"chat.completion.chunk"`) {
		t.Errorf("stream: %d %s", status, out)
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	for i, want := range []string{"missing", "wrong", "ok"} {
		if reqs[i].Authorization != want || reqs[i].Header.Get("Authorization") != "" {
			t.Errorf("request %d: key check %q, header %q", i, reqs[i].Authorization, reqs[i].Header.Get("Authorization"))
		}
	}
	if reqs[2].Model != "deepseek-chat" || reqs[2].Messages[0].Content != "你好" || !reqs[2].Stream {
		t.Errorf("decoded request: %+v", reqs[2])
	}
}
