package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// upload sends body as a file named name.
func (a *app) upload(token, name string, body []byte) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.url+"/api/uploads?name="+url.QueryEscape(name), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "image/png") // claimed; never believed
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (a *app) getJSON(path, token string) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func screenshotPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 640, 400))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// attachmentsOf lists what the conversation's files are to token's owner,
// by id.
func (a *app) attachmentsOf(conv, token string) (int, map[string]map[string]any) {
	a.t.Helper()
	status, m := a.getJSON("/api/conversations/"+conv+"/attachments", token)
	out := map[string]map[string]any{}
	list, _ := m["attachments"].([]any)
	for _, x := range list {
		at := x.(map[string]any)
		out[at["id"].(string)] = at
	}
	return status, out
}

// TestAttachmentsEndToEnd: files go up first, messages and notes carry
// them, a retried message takes them once, each side sees what it may
// (never a note's file for the employee, nothing of another's), and the
// signed URLs serve them safely.
func TestAttachmentsEndToEnd(t *testing.T) {
	databases(t, []string{"--dev", "--max-attachment-bytes", "65536", "--upload-quota-bytes", "1048576"}, func(t *testing.T, a *app) {
		emp, stranger := a.employee("zhangsan"), a.employee("lisi")
		agentTok, agentID := a.loginAgent("demo", "demo")
		status, conv := a.post("/api/h5/conversations", emp, map[string]string{"subject": "打印机报错", "body": "见截图", "client_msg_id": "c1"})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, conv)
		}
		id := conv["id"].(string)
		if status, m := a.post("/api/conversations/"+id+"/claim", agentTok, nil); status != http.StatusOK {
			t.Fatalf("claim: %d %v", status, m)
		}

		status, shot := a.upload(emp, "错误截图.png", screenshotPNG(t))
		if status != http.StatusCreated || shot["type"] != "image/png" || shot["thumbnail"] != true || shot["width"] != 640.0 {
			t.Fatalf("upload: %d %v", status, shot)
		}
		shotID := shot["id"].(string)

		// A message carrying it, with no text, over the socket; sent twice.
		ws := a.dial("/ws/h5/zhangsan", []string{"bearer." + emp})
		frame := map[string]any{"type": "message", "conversation_id": id, "body": "", "client_msg_id": "m1", "attachments": []string{shotID}}
		for i, wantDup := range []bool{false, true} {
			ws.WriteJSON(frame)
			ack := nextOfType(t, ws, "ack")
			if ack["duplicate"] != wantDup {
				t.Fatalf("send %d: ack %v", i+1, ack)
			}
		}
		// A stranger cannot take it, nor see the conversation's files.
		if status, _ := a.post("/api/conversations/"+id+"/messages", stranger, map[string]any{"body": "x", "attachments": []string{shotID}}); status != http.StatusNotFound {
			t.Errorf("a stranger sending someone's upload: %d", status)
		}
		if status, _ := a.attachmentsOf(id, stranger); status != http.StatusNotFound {
			t.Errorf("a stranger listing the files: %d", status)
		}

		// The agent: a log in a private note, a picture in a reply.
		status, logFile := a.upload(agentTok, "trace.log", []byte("09:00 spooler crashed\n"))
		if status != http.StatusCreated {
			t.Fatalf("upload log: %d %v", status, logFile)
		}
		if status, m := a.post("/api/conversations/"+id+"/notes", agentTok, map[string]any{"body": "驱动日志", "attachments": []string{logFile["id"].(string)}}); status != http.StatusCreated {
			t.Fatalf("note: %d %v", status, m)
		}
		_, reply := a.upload(agentTok, "步骤.png", screenshotPNG(t))
		if status, m := a.post("/api/conversations/"+id+"/messages", agentTok, map[string]any{"body": "按图操作", "attachments": []string{reply["id"].(string)}}); status != http.StatusCreated {
			t.Fatalf("reply: %d %v", status, m)
		}
		// An upload is taken once: a second message cannot carry it again.
		if status, _ := a.post("/api/conversations/"+id+"/messages", agentTok, map[string]any{"body": "again", "attachments": []string{reply["id"].(string)}}); status != http.StatusConflict {
			t.Errorf("reusing an upload: %d", status)
		}

		_, forEmployee := a.attachmentsOf(id, emp)
		_, forAgent := a.attachmentsOf(id, agentTok)
		if len(forEmployee) != 2 || forEmployee[logFile["id"].(string)] != nil || len(forAgent) != 3 {
			t.Fatalf("the employee sees %d files (a note's among them: %v), the agent %d", len(forEmployee), forEmployee[logFile["id"].(string)] != nil, len(forAgent))
		}

		// Polling shows the metadata in the events; a note never reaches the employee.
		_, evs := a.getJSON("/api/conversations/"+id+"/events?after_seq=0", emp)
		carried := 0
		for _, x := range evs["events"].([]any) {
			ev := x.(map[string]any)
			if ev["type"] == "note.created" {
				t.Error("the employee polled a note")
			}
			d, _ := ev["data"].(map[string]any)
			if as, ok := d["attachments"].([]any); ok {
				carried += len(as)
				if as[0].(map[string]any)["name"] == nil {
					t.Errorf("attachment metadata without a name: %v", as)
				}
			}
		}
		if carried != 2 {
			t.Errorf("the employee's events carry %d attachments, want 2 (theirs once, the reply's)", carried)
		}

		// The signed URLs: a thumbnail inline, a log as a download, safely.
		get := func(raw string) *http.Response {
			resp, err := http.Get(a.url + raw)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp := get(forEmployee[shotID]["thumbnail_url"].(string))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" || len(body) == 0 ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("thumbnail: %d %v", resp.StatusCode, resp.Header)
		}
		resp = get(forAgent[logFile["id"].(string)]["url"].(string))
		resp.Body.Close()
		if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "trace.log") {
			t.Errorf("log download: %d %q", resp.StatusCode, cd)
		}
		// A guessed id without the desk's signature opens nothing.
		if resp := get("/files/" + shotID + "/file"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a file fetched by its id alone: %d", resp.StatusCode)
		}
		tampered := strings.Replace(forEmployee[shotID]["url"].(string), "/file?", "/thumb?", 1)
		if resp := get(tampered); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a URL's variant changed: %d", resp.StatusCode)
		}

		// Refusals, each with its reason.
		for _, c := range []struct {
			name   string
			body   []byte
			status int
			reason string
		}{
			{"big.log", bytes.Repeat([]byte("x"), 70000), http.StatusRequestEntityTooLarge, "too_large"},
			{"setup.exe", append([]byte("MZ"), make([]byte, 64)...), http.StatusUnsupportedMediaType, "executable"},
			{"photo.jpg", []byte("%PDF-1.4 not a photo"), http.StatusUnsupportedMediaType, "type_mismatch"},
			{"empty.txt", nil, http.StatusBadRequest, "empty"},
		} {
			status, m := a.upload(emp, c.name, c.body)
			e, _ := m["error"].(map[string]any)
			if status != c.status || e["reason"] != c.reason {
				t.Errorf("%s: %d %v, want %d %s", c.name, status, m, c.status, c.reason)
			}
		}
		ten := make([]string, 10)
		for i := range ten {
			ten[i] = "at_0000000000000000"
		}
		if status, _ := a.post("/api/conversations/"+id+"/messages", emp, map[string]any{"body": "x", "attachments": ten}); status != http.StatusBadRequest {
			t.Errorf("ten attachments: %d", status)
		}
		_ = agentID
	})
}
