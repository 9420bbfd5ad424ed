package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// frameOf is the fields tests look at in any frame.
type frameOf struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	ClientMsgID    string `json:"client_msg_id"`
	ID             string `json:"id"`
	Duplicate      bool   `json:"duplicate"`
	More           bool   `json:"more"`
	Code           string `json:"code"`
	Data           struct {
		Body string `json:"body"`
	} `json:"data"`
}

func (c *client) nextFrame() frameOf {
	c.t.Helper()
	var f frameOf
	raw := c.nextRaw()
	if err := json.Unmarshal(raw, &f); err != nil {
		c.t.Fatalf("bad frame %s", raw)
	}
	return f
}

// nextOf skips frames of other types (typing, queue positions).
func (c *client) nextOf(types ...string) frameOf {
	c.t.Helper()
	for {
		f := c.nextFrame()
		for _, t := range types {
			if f.Type == t {
				return f
			}
		}
	}
}

func TestMessageFrameIsStoredOnceAndAcknowledged(t *testing.T) {
	d := newTestDesk(t, nil)
	conv := d.conversation("e1", "a1")
	employee := d.connect(desk.RoleEmployee, "e1")
	agent := d.connect(desk.RoleAgent, "a1")

	send := `{"type":"message","conversation_id":"` + conv + `","body":"打印机卡纸了","client_msg_id":"m-1"}`
	employee.send(send)
	ev := employee.nextOf("message.created")
	ack := employee.nextOf("ack")
	if ack.Seq != ev.Seq || ack.ClientMsgID != "m-1" || ack.Duplicate || ack.ID != fmt.Sprintf("%s:%d", conv, ev.Seq) {
		t.Fatalf("ack %+v for event %+v", ack, ev)
	}
	if got := agent.nextOf("message.created"); got.Seq != ev.Seq || got.Data.Body != "打印机卡纸了" {
		t.Fatalf("agent got %+v", got)
	}
	// A retry (same client_msg_id) is acknowledged with the original and
	// stored nowhere.
	employee.send(send)
	if again := employee.nextOf("ack"); again.Seq != ev.Seq || !again.Duplicate {
		t.Fatalf("retry ack %+v", again)
	}
	agent.send(`{"type":"ping"}`)
	if f := agent.nextFrame(); f.Type != "pong" {
		t.Fatalf("agent received %+v after a retried send", f)
	}
	events, err := d.desk.Events(context.Background(), desk.Principal{Role: desk.RoleAgent, ID: "a1"}, conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := countType(events, desk.EventMessage); n != 2 { // the opening message and this one
		t.Errorf("%d messages stored, want 2", n)
	}
}

func countType(events []desk.ConvEvent, typ desk.EventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestResumeAfterADrop: an agent's connection drops mid-stream while the
// employee keeps writing; the agent reconnects and resumes from the last seq
// it saw. It ends with every event exactly once, in order.
func TestResumeAfterADrop(t *testing.T) {
	d := newTestDesk(t, nil)
	conv := d.conversation("e1", "a1")
	const messages = 300
	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e1"}

	var wg sync.WaitGroup
	wg.Add(1)
	start := make(chan struct{})
	go func() {
		defer wg.Done()
		<-start
		for i := range messages {
			if _, _, err := d.desk.Send(context.Background(), emp, conv, fmt.Sprintf("msg %d", i), fmt.Sprintf("k%d", i)); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			if i%10 == 0 {
				time.Sleep(time.Millisecond) // a human-ish pace, so the drop lands mid-stream
			}
		}
	}()

	// The client follows docs/protocol.md: after sending resume it buffers
	// the conversation's events until "resumed", then applies them in seq
	// order, dropping any seq it already has; afterwards it applies events
	// as they come, dropping duplicates.
	var applied []int64
	var buffered []int64
	pending := false
	apply := func(seq int64) {
		if len(applied) == 0 || seq > applied[len(applied)-1] {
			applied = append(applied, seq)
		}
	}
	receive := func(f frameOf) {
		switch {
		case f.Type == "resumed":
			slices.Sort(buffered)
			for _, seq := range buffered {
				apply(seq)
			}
			buffered, pending = nil, false
		case f.ConversationID != conv || f.Seq == 0 || f.Type == "ack":
		case pending:
			buffered = append(buffered, f.Seq)
		default:
			apply(f.Seq)
		}
	}
	resume := func(c *client, after int64) {
		pending = true
		c.send(fmt.Sprintf(`{"type":"resume","conversation_id":"%s","after_seq":%d}`, conv, after))
	}

	agent := d.connect(desk.RoleAgent, "a1")
	resume(agent, 0)
	close(start)
	for len(applied) < 60 {
		receive(agent.nextFrame())
	}
	agent.ws.Close() // the drop
	time.Sleep(20 * time.Millisecond)

	agent = d.connect(desk.RoleAgent, "a1")
	resume(agent, applied[len(applied)-1])
	wg.Wait()
	final, err := d.db.Conversation(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	dupsAfterResumed := 0
	for len(applied) == 0 || applied[len(applied)-1] < final.Seq || pending {
		f := agent.nextFrame()
		if !pending && f.ConversationID == conv && f.Seq != 0 && f.Type != "ack" && f.Type != "resumed" && f.Seq <= applied[len(applied)-1] {
			dupsAfterResumed++
		}
		receive(f)
	}
	for i, seq := range applied {
		if seq != int64(i+1) {
			t.Fatalf("applied seqs have a gap or disorder at %d: %v", i, applied[max(0, i-3):min(len(applied), i+3)])
		}
	}
	if dupsAfterResumed > 0 {
		t.Errorf("%d duplicates after the resumed marker", dupsAfterResumed)
	}
	if got := len(applied); int64(got) != final.Seq {
		t.Errorf("applied %d events, the conversation has %d", got, final.Seq)
	}
}

// TestResumeIsPagedAndHidesNotesFromEmployees checks "more" and that an
// employee's replay skips private notes.
func TestResumeIsPagedAndHidesNotesFromEmployees(t *testing.T) {
	d := newTestDesk(t, nil)
	conv := d.conversation("e1", "a1")
	agentP := desk.Principal{Role: desk.RoleAgent, ID: "a1"}
	if _, err := d.desk.Note(context.Background(), agentP, conv, "employee seems to use an old VPN client"); err != nil {
		t.Fatal(err)
	}
	for i := range resumeBatch + 10 {
		if _, _, err := d.desk.Send(context.Background(), agentP, conv, fmt.Sprint(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	employee := d.connect(desk.RoleEmployee, "e1")
	employee.send(`{"type":"resume","conversation_id":"` + conv + `","after_seq":0}`)
	var seqs []int64
	var done frameOf
	for {
		f := employee.nextFrame()
		if f.Type == "note.created" {
			t.Fatal("employee received a private note")
		}
		if f.Type == "resumed" {
			done = f
			break
		}
		if f.ConversationID == conv && f.Seq > 0 {
			seqs = append(seqs, f.Seq)
		}
	}
	if !done.More || len(seqs) != resumeBatch || done.Seq != seqs[len(seqs)-1] {
		t.Fatalf("first page: %d events, resumed %+v", len(seqs), done)
	}
	employee.send(fmt.Sprintf(`{"type":"resume","conversation_id":"%s","after_seq":%d}`, conv, done.Seq))
	for {
		f := employee.nextFrame()
		if f.Type == "resumed" {
			if f.More {
				t.Errorf("second page still says more: %+v", f)
			}
			break
		}
		if f.Type == "note.created" {
			t.Fatal("employee received a private note")
		}
	}
}

func TestReadFrameRecordsReadState(t *testing.T) {
	d := newTestDesk(t, nil)
	conv := d.conversation("e1", "a1")
	agent := d.connect(desk.RoleAgent, "a1")
	employee := d.connect(desk.RoleEmployee, "e1")
	agent.send(`{"type":"read","conversation_id":"` + conv + `","seq":3}`)
	if f := employee.nextOf("conversation.read"); f.ConversationID != conv {
		t.Fatalf("employee got %+v", f)
	}
	parts, err := d.db.Participants(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.ID == "a1" && p.LastReadSeq != 3 {
			t.Errorf("agent last read %d, want 3", p.LastReadSeq)
		}
	}
}
