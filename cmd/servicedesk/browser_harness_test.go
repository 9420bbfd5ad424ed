package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

var screenshotDir = flag.String("screenshots", "", "directory for the browser tests' screenshots (default: the test's temp dir)")

// chromiumPath is Debian's package: test tools cannot download a browser here.
const chromiumPath = "/usr/bin/chromium"

const (
	// waitTimeout bounds every wait for the page to show something; the
	// pages answer in milliseconds, so this only decides how long a broken
	// page takes to fail (a loaded CI machine has needed more than 10 s).
	waitTimeout = 30 * time.Second
	// pollEvery is how often a waiting test looks at the page again.
	pollEvery = 50 * time.Millisecond
)

// chromium returns the browser's path, or skips the test when it is not
// installed, unless CI or SERVICEDESK_TEST_BROWSER=1 asks for these tests.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("SERVICEDESK_TEST_BROWSER") == "1" {
			t.Fatalf("%s is missing (%v) and CI=true or SERVICEDESK_TEST_BROWSER=1 requires the browser tests: apt-get install chromium fonts-noto-cjk", chromiumPath, err)
		}
		t.Skipf("%s not found: skipping the browser tests (apt-get install chromium fonts-noto-cjk to run them)", chromiumPath)
	}
	return chromiumPath
}

// freeAddr picks a port that is free now, so the server can be started,
// stopped and started again on the same address, as a real restart is.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBrowser launches one headless Chromium for the test with a fresh
// profile; each page then gets a browser context of its own (openTab), so
// their storage is as separate as two people's phones.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	output := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser with no deadline
		t.Fatalf("start %s: %v\n%s", path, err, output)
	}
	return ctx
}

// tab is one page in a browser context of its own. It records every
// JavaScript dialog (there must be none) and the errors the page logs.
type tab struct {
	name string
	ctx  context.Context

	mu      sync.Mutex
	dialogs []string
	errors  []string
}

// openTab opens a page of width×height CSS pixels; mobile emulates a phone
// (the meta viewport applies, as in WeCom's in-app browser).
func openTab(t *testing.T, browser context.Context, name string, width, height int64, mobile bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{name: name, ctx: ctx}
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulatePortrait, chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			// A dialog blocks the page and every later action: dismiss it
			// (from another goroutine: a listener may not send commands).
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	// Uncaught exceptions, console.error and the browser's own errors (CSP
	// violations, failed requests) are kept for failure messages and the log.
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				tb.logError(fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
			}
		}
	}()
	return tb
}

func (tb *tab) logError(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errors = append(tb.errors, s)
}

// dialogsOpened lists the JavaScript dialogs the page opened.
func (tb *tab) dialogsOpened() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

// pageErrors lists the uncaught exceptions, console.error calls and browser
// errors so far.
func (tb *tab) pageErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...)
}

// do runs actions on the page and fails the test, describing the page, if
// they do not finish within waitTimeout.
func (tb *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %s: %v\n%s", tb.name, what, err, tb.describe())
	}
}

// evalJS evaluates expr in the page and decodes its value into T.
func evalJS[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	// Awaiting makes an async expression (files built in the page) count
	// once it settled; a plain value is unchanged by it.
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// waitUntil polls the JavaScript expression until it is truthy; what says
// in the failure what the user was waiting to see.
func (tb *tab) waitUntil(t *testing.T, what, expr string) {
	t.Helper()
	tb.waitUntilWithin(t, waitTimeout, what, expr)
}

func (tb *tab) waitUntilWithin(t *testing.T, within time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(within)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: waited %v for %s (%s; last error %v)\n%s", tb.name, within, what, expr, lastErr, tb.describe())
		}
		time.Sleep(pollEvery)
	}
}

// waitCount waits until exactly n elements match selector.
func (tb *tab) waitCount(t *testing.T, selector string, n int) {
	t.Helper()
	tb.waitUntil(t, fmt.Sprintf("%d × %s", n, selector),
		fmt.Sprintf("document.querySelectorAll(%s).length === %d", jsString(selector), n))
}

// count is the number of elements matching selector now.
func (tb *tab) count(t *testing.T, selector string) int {
	t.Helper()
	return evalJS[int](t, tb, fmt.Sprintf("document.querySelectorAll(%s).length", jsString(selector)))
}

// waitVisible waits until selector matches an element the user can see.
func (tb *tab) waitVisible(t *testing.T, selector string) {
	t.Helper()
	tb.waitUntil(t, selector+" visible", visibleJS(selector))
}

// visibleJS is true when selector matches an element that is rendered and
// not hidden by the hidden attribute, display, visibility or opacity.
func visibleJS(selector string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s);
		return !!e && !e.closest('[hidden]') && e.checkVisibility({visibilityProperty: true, opacityProperty: true}); })()`,
		jsString(selector))
}

// text is the textContent of the first element matching selector.
func (tb *tab) text(t *testing.T, selector string) string {
	t.Helper()
	tb.waitUntil(t, selector+" present", fmt.Sprintf("document.querySelector(%s)", jsString(selector)))
	return evalJS[string](t, tb, fmt.Sprintf("document.querySelector(%s).textContent", jsString(selector)))
}

// click clicks the element with the mouse once it is visible.
func (tb *tab) click(t *testing.T, selector string) {
	t.Helper()
	// A live list may redraw between finding an item and clicking it
	// ("Could not find node"): find it again, a few times.
	for attempt := 0; ; attempt++ {
		tb.waitVisible(t, selector)
		ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector)))
		cancel()
		if err == nil {
			return
		}
		if attempt == 4 || !strings.Contains(err.Error(), "Could not find node") {
			t.Fatalf("%s: click %s: %v\n%s", tb.name, selector, err, tb.describe())
		}
		time.Sleep(pollEvery)
	}
}

// typeText types into the element as a user would, key by key.
func (tb *tab) typeText(t *testing.T, selector, text string) {
	t.Helper()
	tb.waitVisible(t, selector)
	tb.do(t, "type into "+selector, chromedp.SendKeys(chromedp.CSS(selector), text))
}

// clearField empties an input or textarea as selecting all and deleting
// would, input event included.
func (tb *tab) clearField(t *testing.T, selector string) {
	t.Helper()
	evalJS[chromedp.Void](t, tb, fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = '';
		e.dispatchEvent(new Event('input', {bubbles: true})); })()`, jsString(selector)))
}

// pressEnter sends the Enter key to the focused element as a keydown and a
// keyup with no char event: a page that sends on keydown and cancels the
// default must not get a stray newline from the test.
func (tb *tab) pressEnter(t *testing.T) {
	t.Helper()
	tb.do(t, "press Enter", chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, target, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// pressKey presses one named key (ArrowLeft, Escape…) on the page.
func (tb *tab) pressKey(t *testing.T, key string) {
	t.Helper()
	codes := map[string]int64{"ArrowLeft": 37, "ArrowRight": 39, "Escape": 27, "?": 191, "r": 82, "j": 74, "k": 75}
	tb.do(t, "press "+key, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: key, Code: key, WindowsVirtualKeyCode: codes[key], NativeVirtualKeyCode: codes[key]}
			if len(key) == 1 && typ == input.DispatchKeyEventTypeRawKeyDown {
				p.Type, p.Text = input.DispatchKeyEventTypeKeyDown, key // a printable key types its character
			}
			_, err := cdp.Call(ctx, target, input.DispatchKeyEvent, p)
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// choose selects value in a <select> once that option exists, and fires
// the events a user's choice fires.
func (tb *tab) choose(t *testing.T, selector, value string) {
	t.Helper()
	option := fmt.Sprintf("%s option[value=%s]", selector, jsString(value))
	tb.waitUntil(t, "option "+value+" in "+selector, fmt.Sprintf("document.querySelector(%s)", jsString(option)))
	evalJS[chromedp.Void](t, tb, fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = %s;
		s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); })()`,
		jsString(selector), jsString(value)))
}

// navigate loads url and waits for the document to be parsed.
func (tb *tab) navigate(t *testing.T, url string) {
	t.Helper()
	tb.do(t, "navigate to "+url, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// screenshot saves a full-page PNG as dir/name.png and returns its path.
func (tb *tab) screenshot(t *testing.T, dir, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// describe is what the page shows, for failure messages: the connection
// state, the visible text and the errors the page logged.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " conn-state=" +
		(document.querySelector('#conn-state')?.dataset.state ?? '(none)') + "\n" +
		(document.body?.innerText ?? '').slice(0, 1500)`))
	if err != nil {
		state = fmt.Sprintf("(page not readable: %v)", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s shows: %s", tb.name, state)
	if errs := tb.pageErrors(); len(errs) > 0 {
		fmt.Fprintf(&b, "\n--- %s logged:\n  %s", tb.name, strings.Join(errs, "\n  "))
	}
	return b.String()
}

// shownMessage is one [data-testid=message] element as the DOM contract
// describes it.
type shownMessage struct {
	Seq         string `json:"seq"`
	ClientMsgID string `json:"cmid"`
	Status      string `json:"status"`
	Body        string `json:"body"`
	HasBody     bool   `json:"has_body"`
}

const messagesJS = `[...document.querySelectorAll('[data-testid=message]')].map(e => ({
	seq: e.dataset.seq ?? '', cmid: e.dataset.clientMsgId ?? '', status: e.dataset.status ?? '',
	body: e.querySelector('.body')?.textContent ?? '', has_body: !!e.querySelector('.body')}))`

func (tb *tab) messages(t *testing.T) []shownMessage {
	t.Helper()
	return evalJS[[]shownMessage](t, tb, messagesJS)
}

// messageProblems compares what the page shows with the bodies the
// conversation holds, in order: each exactly once, stored (with a seq), in
// seq order, no seq or client id twice.
func messageProblems(shown []shownMessage, want []string) []string {
	var problems []string
	seqs := map[string]int{}
	ids := map[string]int{}
	var bodies []string
	last := -1
	for i, m := range shown {
		bodies = append(bodies, m.Body)
		if !m.HasBody {
			problems = append(problems, fmt.Sprintf("message %d has no .body", i))
		}
		if m.Status != "" && m.Status != "sent" {
			problems = append(problems, fmt.Sprintf("message %q is %q", m.Body, m.Status))
		}
		if m.Seq == "" {
			problems = append(problems, fmt.Sprintf("message %q has no data-seq (status %q)", m.Body, m.Status))
			continue
		}
		if seqs[m.Seq]++; seqs[m.Seq] == 2 {
			problems = append(problems, fmt.Sprintf("seq %s shown twice", m.Seq))
		}
		if m.ClientMsgID != "" {
			if ids[m.ClientMsgID]++; ids[m.ClientMsgID] == 2 {
				problems = append(problems, fmt.Sprintf("client id %s shown twice", m.ClientMsgID))
			}
		}
		var seq int
		fmt.Sscan(m.Seq, &seq)
		if seq <= last {
			problems = append(problems, fmt.Sprintf("seq %d shown after seq %d", seq, last))
		}
		last = seq
	}
	if strings.Join(bodies, "\x00") != strings.Join(want, "\x00") {
		problems = append(problems, fmt.Sprintf("bodies %q, want %q", bodies, want))
	}
	return problems
}

// waitMessages waits until the page shows exactly the messages want, each
// once; on timeout it reports what is wrong with what it shows.
func (tb *tab) waitMessages(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		shown := tb.messages(t)
		problems := messageProblems(shown, want)
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the message list is wrong after %v:\n  %s\n%s", tb.name, waitTimeout, strings.Join(problems, "\n  "), tb.describe())
		}
		time.Sleep(pollEvery)
	}
}

// watchJS installs, once per document, an observer that sees every change
// to the message list as it happens: it records any message shown twice at
// the same moment (a flicker a final check would miss) and, per body, the
// sequence of data-status values the message went through.
const watchJS = `(() => {
	if (window.__servicedeskWatch) return true;
	const w = window.__servicedeskWatch = {dupes: [], status: {}};
	const look = () => {
		const seen = new Set();
		for (const e of document.querySelectorAll('[data-testid=message]')) {
			const body = e.querySelector('.body')?.textContent ?? '';
			const key = e.dataset.clientMsgId || ('seq ' + e.dataset.seq);
			if (seen.has(key) && !w.dupes.includes(key + ': ' + body)) w.dupes.push(key + ': ' + body);
			seen.add(key);
			const h = (w.status[body] ??= []);
			if (e.dataset.status && h[h.length - 1] !== e.dataset.status) h.push(e.dataset.status);
		}
	};
	new MutationObserver(look).observe(document.documentElement, {subtree: true, childList: true,
		attributes: true, attributeFilter: ['data-status', 'data-seq', 'data-client-msg-id']});
	look();
	return true;
})()`

// watchMessages starts watching the page's message list (see watchJS).
func (tb *tab) watchMessages(t *testing.T) {
	t.Helper()
	evalJS[bool](t, tb, watchJS)
}

// duplicatesSeen lists the messages the page ever showed twice at once.
func (tb *tab) duplicatesSeen(t *testing.T) []string {
	t.Helper()
	return evalJS[[]string](t, tb, `window.__servicedeskWatch.dupes`)
}

// statusHistory is the sequence of data-status values of the message with
// this body, as the page showed them.
func (tb *tab) statusHistory(t *testing.T, body string) []string {
	t.Helper()
	return evalJS[[]string](t, tb, fmt.Sprintf(`window.__servicedeskWatch.status[%s] ?? []`, jsString(body)))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
