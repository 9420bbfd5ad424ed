package wecomfake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// Server is a Fake listening on a loopback port.
type Server struct {
	*Fake
	URL string // the base URL of the API, the OAuth page and the SSO page alike
	srv *httptest.Server
}

// Start serves a new fake with opts on a loopback port.
func Start(opts Options) *Server {
	f := New(opts)
	srv := httptest.NewServer(f)
	return &Server{Fake: f, URL: srv.URL, srv: srv}
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Transport reaches the fake in process, with no network: for tests that
// run inside a testing/synctest bubble, where time only moves while every
// goroutine is blocked on something the bubble controls.
func (f *Fake) Transport() http.RoundTripper { return transport{f} }

type transport struct{ f *Fake }

// RoundTrip serves r with the fake and returns what it wrote.
func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	r2 := r.Clone(r.Context())
	r2.RemoteAddr = "127.0.0.1:1"
	r2.RequestURI = r.URL.RequestURI()
	t.f.ServeHTTP(rec, r2)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// Demo values of the fake corp. The secret is the fake's own and opens
// nothing else.
const (
	DemoCorpID  = "wwfakecorp0000demo"
	DemoAgentID = 1000002
	DemoSecret  = "fake-wecom-secret-for-local-demo-only"
)

// DemoOptions returns a small corp: a root, an IT department, finance, and
// a sales department under marketing; an IT agent, three employees, one
// member outside the app's visible range, one who left, and one outsider.
func DemoOptions() Options {
	return Options{
		CorpID: DemoCorpID, AgentID: DemoAgentID, Secret: DemoSecret,
		Departments: []Department{
			{ID: 1, Name: "示例科技有限公司", NameEn: "Example Tech", ParentID: 0, Order: 100000000},
			{ID: 2, Name: "信息技术部", NameEn: "IT", ParentID: 1, Order: 99999000},
			{ID: 3, Name: "财务部", NameEn: "Finance", ParentID: 1, Order: 99998000},
			{ID: 4, Name: "市场中心", NameEn: "Marketing", ParentID: 1, Order: 99997000},
			{ID: 5, Name: "华东销售部", NameEn: "Sales East", ParentID: 4, Order: 99996000},
			{ID: 6, Name: "董事会", NameEn: "Board", ParentID: 1, Order: 99995000, Hidden: true},
		},
		Members: []Member{
			{UserID: "lisi", Name: "李四", Department: []int64{2}, MainDepartment: 2, Position: "IT 服务台工程师"},
			{UserID: "zhangsan", Name: "张三", Department: []int64{5}, MainDepartment: 5, Position: "销售经理"},
			{UserID: "wangwu", Name: "王五", Department: []int64{3}, MainDepartment: 3, Position: "会计"},
			{UserID: "zhaoliu", Name: "赵六", Department: []int64{5, 3}, MainDepartment: 5, Position: "销售助理"},
			{UserID: "sunqi", Name: "孙七", Department: []int64{6}, MainDepartment: 6, Position: "董事", Hidden: true},
			{UserID: "zhouba", Name: "周八", Department: []int64{3}, MainDepartment: 3, Position: "出纳", Status: 5},
		},
		Outsiders: []string{"o_wechat_guest"},
	}
}

// Run serves a fake WeCom with the demo corp on addr until ctx ends, and
// prints to out the settings that point the desk at it. It is meant to be
// exposed as `servicedesk wecom-fake`.
func Run(ctx context.Context, addr string, out io.Writer, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("wecom-fake: listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	opts := DemoOptions()
	fmt.Fprintf(out, "fake WeCom on %s\n\n", base)
	fmt.Fprintf(out, "  --wecom-corp-id %s --wecom-agent-id %d\n", opts.CorpID, opts.AgentID)
	fmt.Fprintf(out, "  --wecom-api-base %s --wecom-oauth-base %s --wecom-sso-base %s\n", base, base, base)
	fmt.Fprintf(out, "  SERVICEDESK_WECOM_SECRET=%s\n\n", opts.Secret)
	fmt.Fprintf(out, "members:")
	for _, m := range opts.Members {
		fmt.Fprintf(out, " %s(%s)", m.UserID, m.Name)
	}
	fmt.Fprintln(out)
	srv := &http.Server{Handler: New(opts), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("wecom fake listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("wecom-fake: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("wecom-fake: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("wecom-fake: %w", err)
	}
	return nil
}
