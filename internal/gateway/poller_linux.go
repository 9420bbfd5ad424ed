package gateway

import (
	"sync"
	"syscall"
	"time"
)

// poller holds parked readers in one epoll instance, watched by one
// goroutine, instead of a goroutine each: a goroutine waiting on its socket
// is at least a 2 KiB stack and a ~550-byte g, which at 10,000 idle sockets
// was half of their memory (docs/benchmarks.md, issue 14). It hands a
// reader back to a goroutine of its own (reader.park) when its socket
// becomes readable, its read deadline passes, or the hub wakes it (the
// connection is closing, or its socket was closed under it).
//
// The goroutine runs only while a reader is held: it closes the instance
// and ends once none is, and hold starts another.
type poller struct {
	// every is how often held readers' read deadlines are checked: a
	// silent peer is dropped up to this much after its deadline.
	every time.Duration

	mu   sync.Mutex
	epfd int                // the instance; -1 while no goroutine watches
	held map[uint64]*reader // by the key in their epoll events
	next uint64             // the last key given
}

// maxWait bounds one epoll wait, so an emptied poller ends soon.
const maxWait = 100 * time.Millisecond

func newPoller(pingInterval time.Duration) *poller {
	// The hub pings in 8 buckets per interval; checking deadlines as
	// often keeps a dead peer's lateness under an eighth of its grace.
	every := min(max(pingInterval/8, 10*time.Millisecond), time.Second)
	return &poller{every: every, epfd: -1, held: make(map[uint64]*reader)}
}

// hold takes r's socket into the poller; false if it cannot (then r waits
// in a goroutine of its own). r's key is guarded by p.mu.
func (p *poller) hold(r *reader) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epfd < 0 {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return false
		}
		p.epfd = epfd
		go p.loop(epfd)
	}
	key := p.next + 1
	// Level-triggered and one-shot: what arrived before the add is
	// reported at once, and one event per hold is all a reader needs.
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(key)), Pad: int32(uint32(key >> 32)),
	}
	var cerr error
	// Control holds the socket open meanwhile, so the add is for this
	// socket and not a later one given the same descriptor number.
	err := r.raw.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		return false // closed under us: the goroutine's wait sees why
	}
	p.next = key
	p.held[key] = r
	r.key = key
	return true
}

// release takes r back from the poller, and reports whether it had it:
// then the caller owns r's wait.
func (p *poller) release(r *reader) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeLocked(r)
}

func (p *poller) takeLocked(r *reader) bool {
	if r.key == 0 || p.held[r.key] != r {
		return false
	}
	delete(p.held, r.key)
	r.key = 0
	// A closed socket has left the instance by itself, and Control fails.
	r.raw.Control(func(fd uintptr) {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	return true
}

// loop hands back the readers whose sockets are readable or whose read
// deadline passed, until none is held.
func (p *poller) loop(epfd int) {
	events := make([]syscall.EpollEvent, 128)
	var woken []*reader
	var swept time.Time
	wait := int(min(p.every, maxWait) / time.Millisecond)
	for {
		n, err := syscall.EpollWait(epfd, events, wait)
		if err != nil {
			n = 0 // EINTR; anything else leaves the deadline checks
		}
		now := time.Now()
		p.mu.Lock()
		for _, ev := range events[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if r := p.held[key]; r != nil && p.takeLocked(r) {
				woken = append(woken, r)
			}
		}
		if err != nil && err != syscall.EINTR || now.Sub(swept) >= p.every {
			// A broken instance gives every reader back: they wait on
			// their own, as without a poller.
			broken := err != nil && err != syscall.EINTR
			swept = now
			for _, r := range p.held {
				if broken || r.deadline.Load() <= now.UnixNano() {
					p.takeLocked(r)
					woken = append(woken, r)
				}
			}
		}
		done := len(p.held) == 0
		if done {
			syscall.Close(epfd)
			p.epfd = -1
		}
		p.mu.Unlock()
		for i, r := range woken {
			go r.park()
			woken[i] = nil
		}
		woken = woken[:0]
		if done {
			return
		}
	}
}
