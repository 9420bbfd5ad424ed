package main

import (
	"strings"
	"testing"
	"time"
)

// pickJS puts files made in the page into a file input, as a person
// picking them would. Each file is [name, kind]: "png" draws a picture on
// a canvas, "exe" is a Windows program's first bytes.
func pickJS(selector string, files ...[2]string) string {
	var list []string
	for _, f := range files {
		list = append(list, "["+jsString(f[0])+","+jsString(f[1])+"]")
	}
	return `(async () => {
		const make = async ([name, kind]) => {
			if (kind === 'exe') return new File([new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0])], name, {type: 'image/png'});
			const c = document.createElement('canvas'); c.width = 480; c.height = 320;
			const g = c.getContext('2d'); g.fillStyle = '#2563eb'; g.fillRect(0, 0, 480, 320); g.fillStyle = '#fff'; g.fillText(name, 20, 40);
			const blob = await new Promise(r => c.toBlob(r, 'image/png'));
			return new File([blob], name, {type: 'image/png'});
		};
		const dt = new DataTransfer();
		for (const f of [` + strings.Join(list, ",") + `]) dt.items.add(await make(f));
		const input = document.querySelector(` + jsString(selector) + `);
		input.files = dt.files;
		input.dispatchEvent(new Event('change'));
		return true;
	})()`
}

// pasteJS pastes a screenshot into the composer, as Ctrl+V does.
const pasteJS = `(async () => {
	const c = document.createElement('canvas'); c.width = 800; c.height = 450;
	const g = c.getContext('2d'); g.fillStyle = '#eee'; g.fillRect(0, 0, 800, 450); g.fillStyle = '#c00'; g.fillText('Error 0x80070005', 40, 60);
	const blob = await new Promise(r => c.toBlob(r, 'image/png'));
	const dt = new DataTransfer();
	dt.items.add(new File([blob], 'image.png', {type: 'image/png'}));
	document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
	return true;
})()`

// thumbsLoadedJS counts thumbnails in the history that really loaded.
const thumbsLoadedJS = `[...document.querySelectorAll('#messages [data-testid=attachment-thumb]')].filter(i => i.complete && i.naturalWidth > 0).length`

// TestBrowserAttachments: the agent pastes a screenshot, the employee
// picks a picture on the phone; both see both thumbnails and open them
// full size; a program is refused with a reason in Chinese; links and
// ``` blocks show as such.
func TestBrowserAttachments(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	s.agentSignsIn()
	s.employeeAsks()
	s.queueShowsItLive()
	s.agentClaims()
	agent, emp := s.agent, s.emp

	// The console: a screenshot pasted, previewed in the tray, sent with words.
	evalJS[bool](t, agent, pasteJS)
	agent.waitUntil(t, "the pasted screenshot in the tray", `document.querySelectorAll('[data-testid=tray-item]').length === 1`)
	s.finish(agent, "是这个报错吗？", "是这个报错吗？")
	for _, tb := range []*tab{agent, emp} {
		tb.waitUntil(t, "the screenshot's thumbnail loaded", thumbsLoadedJS+` === 1`)
	}
	if n := agent.count(t, "[data-testid=tray-item]"); n != 0 {
		t.Errorf("the tray still holds %d files after sending", n)
	}

	// The phone: a picture picked (camera or album), sent without words.
	evalJS[bool](t, emp, pickJS("#composer-file", [2]string{"IMG_2041.png", "png"}))
	emp.waitUntil(t, "the picture in the tray", `document.querySelectorAll('[data-testid=tray-item]').length === 1`)
	emp.click(t, "#composer-send")
	s.want = append(s.want, "")
	emp.waitMessages(t, s.want)
	agent.waitMessages(t, s.want)
	for _, tb := range []*tab{agent, emp} {
		tb.waitUntil(t, "both thumbnails loaded", thumbsLoadedJS+` === 2`)
	}

	// Offline: a picture taken while the server is down waits in the
	// outbox and goes once it is back, once.
	if err := s.srv.stop(); err != nil {
		t.Fatal(err)
	}
	emp.waitUntil(t, "#conn-state reconnecting", `document.querySelector('#conn-state')?.dataset.state === 'reconnecting'`)
	evalJS[bool](t, emp, pickJS("#composer-file", [2]string{"IMG_2042.png", "png"}))
	emp.waitUntil(t, "the picture in the tray", `document.querySelectorAll('[data-testid=tray-item]').length === 1`)
	emp.click(t, "#composer-send")
	emp.waitUntil(t, "the offline picture waiting", `document.querySelector('#messages [data-pending][data-status=sending]')`)
	s.srv = startApp(t, s.db, s.args...)
	s.want = append(s.want, "")
	emp.waitMessages(t, s.want)
	agent.waitMessages(t, s.want)
	for _, tb := range []*tab{agent, emp} {
		tb.waitUntilWithin(t, 30*time.Second, "the offline picture's thumbnail too", thumbsLoadedJS+` === 3`)
	}

	// Full size: the viewer opens on a tap, steps with the arrows, closes with Esc.
	emp.click(t, "#messages [data-testid=attachment-thumb]")
	emp.waitUntil(t, "the viewer showing the picture", visibleJS("[data-testid=viewer]")+
		` && document.querySelector('[data-testid=viewer-image]').naturalWidth === 800`)
	agent.click(t, "#messages [data-testid=message]:last-of-type [data-testid=attachment-thumb]")
	agent.waitUntil(t, "the viewer open on the phone's last picture", visibleJS("[data-testid=viewer]")+
		` && document.querySelector('[data-testid=viewer-image]').naturalWidth === 480 && document.querySelector('.viewer-caption').textContent.includes('3/3')`)
	agent.pressKey(t, "ArrowLeft")
	agent.pressKey(t, "ArrowLeft")
	agent.waitUntil(t, "the first picture", `document.querySelector('[data-testid=viewer-image]').naturalWidth === 800`)
	agent.pressKey(t, "Escape")
	agent.waitUntil(t, "the viewer closed", "!"+visibleJS("[data-testid=viewer]"))

	// A program named as a picture: refused, the reason in Chinese, nothing lost.
	evalJS[bool](t, emp, `document.querySelector('[data-testid=viewer] .viewer-close').click() || true`)
	evalJS[bool](t, emp, pickJS("#composer-file", [2]string{"setup.png", "exe"}))
	emp.waitUntil(t, "the file in the tray", `document.querySelectorAll('[data-testid=tray-item]').length === 1`)
	emp.click(t, "#composer-send")
	emp.waitUntil(t, "the refusal shown in Chinese", `[...document.querySelectorAll('[data-testid=send-error]')].some(e => e.textContent.includes('不能发送程序'))`)

	// Links open apart from the desk; a fenced block keeps its lines.
	const withLink = "见 https://support.example.com/vpn?id=42。然后运行：\n```\nipconfig /all\nping 10.0.0.1\n```"
	agent.typeText(t, "#composer-input", "x")
	evalJS[bool](t, agent, `(() => { const i = document.querySelector('#composer-input'); i.value = `+jsString(withLink)+`; return true; })()`)
	agent.pressEnter(t)
	emp.waitUntil(t, "the link and the code block", `(() => {
		const a = [...document.querySelectorAll('#messages a.link-out')].find(a => a.textContent === 'https://support.example.com/vpn?id=42');
		const pre = document.querySelector('#messages [data-testid=code-block]');
		return a && a.rel.includes('noopener') && a.rel.includes('noreferrer') && a.target === '_blank' && pre && pre.textContent === 'ipconfig /all\nping 10.0.0.1';
	})()`)
	if *screenshotDir != "" {
		t.Log("screenshot", agent.screenshot(t, *screenshotDir, "agent-attachments"), emp.screenshot(t, *screenshotDir, "employee-attachments"))
	}
}
