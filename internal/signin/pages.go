package signin

import (
	"html/template"
	"net/http"
	"strings"
)

// page is a refusal or failure shown in the browser in place of the desk:
// what happened, in Chinese first, and what to do.
type page struct {
	Title, Body, TitleEn, BodyEn string
	Retry                        bool // offer to start the sign-in again
}

var (
	pageBadLink = page{
		Title: "登录链接无效或已过期", Body: "请回到企业微信，从工作台重新打开 IT 服务台。",
		TitleEn: "This sign-in link is invalid or has expired", BodyEn: "Go back to WeCom and open the IT service desk again.",
		Retry: true,
	}
	pageNoCode = page{
		Title: "未完成企业微信授权", Body: "企业微信没有确认你的身份。请重新打开页面；如果仍然不行，请联系 IT。",
		TitleEn: "WeCom did not confirm who you are", BodyEn: "Open the page again; if that does not help, contact IT.",
		Retry: true,
	}
	pageNotMember = page{
		Title: "仅限本企业成员使用", Body: "IT 服务台只对本企业的成员开放，外部联系人无法使用。",
		TitleEn: "For members of this company only", BodyEn: "The IT service desk is open to this company's members only, not to external contacts.",
	}
	pageNotAgent = page{
		Title: "你的企业微信账号没有坐席权限", Body: "请联系 IT 服务台管理员为你开通坐席账号，或使用用户名和密码登录。",
		TitleEn: "Your WeCom account has no agent access", BodyEn: "Ask the desk's administrator for an agent account, or sign in with a username and password.",
	}
	pageMisconfigured = page{
		Title: "企业微信登录尚未配置好", Body: "服务台与企业微信的对接配置有误，管理员已可在日志中看到需要修改的设置。请稍后再试或联系 IT。",
		TitleEn: "WeCom sign-in is not set up correctly", BodyEn: "The desk's WeCom settings need fixing; the log names the setting. Try later or contact IT.",
	}
	pageUnavailable = page{
		Title: "暂时无法登录", Body: "企业微信或服务台暂时无法响应，请稍后重试。",
		TitleEn: "Sign-in is unavailable right now", BodyEn: "WeCom or the desk is not answering; try again in a moment.",
		Retry: true,
	}
)

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{{.Title}}</title><link rel="stylesheet" href="/shared/style.css"></head>
<body class="signin-page"><main>
<h1>{{.Title}}</h1><p>{{.Body}}</p>
<p lang="en">{{.TitleEn}}. {{.BodyEn}}</p>
{{if .Retry}}<p><a href="{{.Again}}">重新登录 / Sign in again</a></p>{{end}}
</main></body></html>
`))

// refuse shows p with status. No token was issued and nothing stored.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, status int, p page) {
	again := "/h5/"
	if strings.HasPrefix(r.URL.Path, "/auth/wecom/agent") {
		again = "/agent/"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	pageTemplate.Execute(w, struct {
		page
		Again string
	}{p, again})
}
