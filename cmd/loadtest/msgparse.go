package main

import "bytes"

// The server encodes frames with encoding/json, which writes no spaces, so
// fixed substrings find the few fields the run needs without decoding
// (and allocating) a whole frame on the client's share of the CPU.
var (
	keyMessageCreated = []byte(`"type":"message.created"`)
	keyBodyLT         = []byte(`"body":"lt `)
	keyFromEmployee   = []byte(`"sender_type":"employee"`)
)

// parseDelivery reads a message.created frame sent by one of the run's
// employees: the employee index and message number from its client_msg_id,
// and the send time from its body.
func (r *msgRun) parseDelivery(b []byte) (i int, k, sent int64, ok bool) {
	at := bytes.Index(b, keyMessageCreated)
	if at < 0 {
		return 0, 0, 0, false
	}
	b = b[at+len(keyMessageCreated):]
	if !bytes.Contains(b, keyFromEmployee) {
		return 0, 0, 0, false
	}
	body := bytes.Index(b, keyBodyLT)
	if body < 0 {
		return 0, 0, 0, false
	}
	digits, _, found := bytes.Cut(b[body+len(keyBodyLT):], []byte{'"'})
	if sent, ok = atoi(digits); !found || !ok {
		return 0, 0, 0, false
	}
	i, k, ok = r.parseClientMsgID(b)
	return i, k, sent, ok
}

// parseClientMsgID finds "lt-<tag>-<i>-<k>" as the frame's client_msg_id.
// The opening message ("lt-<tag>-<i>-open") and other runs' ids do not
// parse.
func (r *msgRun) parseClientMsgID(b []byte) (i int, k int64, ok bool) {
	at := bytes.Index(b, r.clientKey)
	if at < 0 {
		return 0, 0, false
	}
	id, _, found := bytes.Cut(b[at+len(r.clientKey):], []byte{'"'})
	if !found {
		return 0, 0, false
	}
	is, ks, found := bytes.Cut(id, []byte{'-'})
	i64, ok1 := atoi(is)
	k, ok2 := atoi(ks)
	return int(i64), k, found && ok1 && ok2
}

// stringField returns the string value after key (which ends with the
// opening quote), or "?" when there is none. It does not unescape.
func stringField(b []byte, key string) []byte {
	at := bytes.Index(b, []byte(key))
	if at < 0 {
		return []byte("?")
	}
	v, _, found := bytes.Cut(b[at+len(key):], []byte{'"'})
	if !found || len(v) > 64 {
		return []byte("?")
	}
	return v
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }
func contains(b []byte, s string) bool  { return bytes.Contains(b, []byte(s)) }
