package wecom

import (
	"errors"
	"fmt"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// WeCom errcodes the client acts on (全局错误码,
// developer.work.weixin.qq.com/document/path/90313).
const (
	codeBusy             = -1    // 系统繁忙: retry, at most 3 times
	codeInvalidSecret    = 40001 // 不合法的secret参数
	codeInvalidCorpID    = 40013 // 不合法的CorpID
	codeInvalidToken     = 40014 // 不合法的access_token
	codeInvalidCode      = 40029 // 不合法的oauth_code: used, expired (5 min) or never issued
	codeInvalidAgentID   = 40056 // 不合法的agentid
	codeTokenExpired     = 42001 // access_token已过期
	codeFreqLimit        = 45009 // 接口调用超过限制
	codeConcurrencyLimit = 45033 // 接口并发调用超过限制
	codeAPIForbidden     = 48002 // API接口无权限调用
	codeUntrustedDomain  = 50001 // redirect_url未登记可信域名
	codeOutOfScope       = 50002 // 成员不在权限范围
	codeAppDisabled      = 50003 // 应用已禁用
	codeNoPrivilege      = 60011 // 指定的成员/部门/标签参数无权限
	codeUntrustedIP      = 60020 // 访问ip不在白名单之中 (企业可信IP)
	codeRecipientsGone   = 81013 // UserID、部门ID、标签ID全部非法或无权限
	codeInvalidUserID    = 40003 // 无效的UserID
	codeNoSuchUser       = 60111 // UserID不存在
	codeNoSuchDept       = 60123 // 无效的部门id
)

// Sentinels for errors.Is on errors returned by a Client.
var (
	// ErrNotMember: the code belongs to someone who is not a member of the
	// corp (getuserinfo answered openid/external_userid, no userid).
	ErrNotMember = errors.New("wecom: not a member of the company")
	// ErrCodeInvalid: errcode 40029, the OAuth code was used, is older than
	// five minutes or was never issued. A caller may restart the login once.
	ErrCodeInvalid = errors.New("wecom: the sign-in code is invalid, used or expired")
	// ErrRecipientGone: errcode 81013, or the recipient came back in
	// invaliduser: deleted, or out of the app's visible range. Stop
	// notifying that person until they sign in again.
	ErrRecipientGone = errors.New("wecom: the recipient is gone or outside the app's visible range")
	// ErrRateLimited: errcode 45009 or 45033 after the client's own bounded
	// backoff.
	ErrRateLimited = errors.New("wecom: rate limited")
	// ErrTokenRejected: errcode 40014 or 42001, and again after one refetch.
	ErrTokenRejected = errors.New("wecom: access token rejected")
)

// APIError is a non-zero errcode from WeCom. Its message is WeCom's errmsg,
// which names the call's source IP on 60020 and never the token.
type APIError struct {
	Path string // the API path, never its query
	Code int
	Msg  string
}

// Error names the path and errcode; never a query.
func (e *APIError) Error() string {
	return fmt.Sprintf("wecom %s: errcode %d: %s", e.Path, e.Code, e.Msg)
}

// Is matches the package's sentinels by errcode.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrCodeInvalid:
		return e.Code == codeInvalidCode
	case ErrRecipientGone:
		return e.Code == codeRecipientsGone
	case ErrRateLimited:
		return e.Code == codeFreqLimit || e.Code == codeConcurrencyLimit
	case ErrTokenRejected:
		return e.Code == codeInvalidToken || e.Code == codeTokenExpired
	}
	return false
}

// ConfigError is an errcode that only an operator can fix: the secret, the
// trusted domain, the trusted IPs, the app's API permissions or its visible
// range. Setting names the place to change, Fix says how; both are safe to
// log and to show to an administrator.
type ConfigError struct {
	Code    int
	Setting string
	Fix     string
	Err     *APIError
}

// Error names the errcode, the setting and the fix.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("wecom configuration (errcode %d): fix %s: %s", e.Code, e.Setting, e.Fix)
}

// Unwrap returns WeCom's answer.
func (e *ConfigError) Unwrap() error { return e.Err }

// AsConfigError returns the *ConfigError in err's chain, if any: what to
// show an administrator and log for the operator.
func AsConfigError(err error) (*ConfigError, bool) {
	var ce *ConfigError
	ok := errors.As(err, &ce)
	return ce, ok
}

// configSettings maps each configuration errcode to what to fix. The flag
// and variable names are the ones issue 9 gives the desk's configuration.
var configSettings = map[int][2]string{
	codeInvalidSecret: {"the app secret (SERVICEDESK_WECOM_SECRET or SERVICEDESK_WECOM_SECRET_FILE)",
		"it does not match the corp id, was reset, or the app is disabled: copy the Secret from 应用管理 → the app"},
	codeInvalidCorpID: {"the corp id (--wecom-corp-id)",
		"use the 企业ID shown in the admin console under 我的企业 → 企业信息"},
	codeInvalidAgentID: {"the agent id (--wecom-agent-id)",
		"use the AgentId shown in 应用管理 → the app"},
	codeUntrustedDomain: {"the app's trusted domain (可信域名) for --public-url",
		"set 应用管理 → the app → 网页授权及JS-SDK and 企业微信授权登录 to exactly the host[:port] of --public-url"},
	codeUntrustedIP: {"the app's trusted IPs (企业可信IP)",
		"add this server's public IP (WeCom's message names it) in 应用管理 → the app → 企业可信IP"},
	codeAPIForbidden: {"the app's API permissions",
		"the app may not call this API: check its permissions, and that the secret is the app's own (not the 通讯录同步 secret)"},
	codeNoPrivilege: {"the app's visible range (可见范围)",
		"the member or department is outside it: widen 应用管理 → the app → 可见范围"},
	codeOutOfScope: {"the app's visible range (可见范围)",
		"the member is outside it: widen 应用管理 → the app → 可见范围"},
	codeAppDisabled: {"the app's state",
		"the app is disabled: enable it in 应用管理 → the app"},
}

// classify turns a non-zero errcode into the desk's error.
func classify(ae *APIError) error {
	if s, ok := configSettings[ae.Code]; ok {
		ce := &ConfigError{Code: ae.Code, Setting: s[0], Fix: s[1], Err: ae}
		return desk.Wrap(desk.EUnavailable, ce, "WeCom sign-in and notifications are misconfigured; the operator has been told what to fix")
	}
	switch ae.Code {
	case codeInvalidCode:
		return desk.Wrap(desk.EUnauthorized, ae, "the WeCom sign-in code is invalid, used or expired")
	case codeInvalidUserID, codeNoSuchUser, codeNoSuchDept:
		return desk.Wrap(desk.ENotFound, ae, "no such member or department in WeCom")
	case codeRecipientsGone:
		return desk.Wrap(desk.ENotFound, ae, "the person is no longer reachable through the WeCom app")
	case codeFreqLimit, codeConcurrencyLimit:
		return desk.Wrap(desk.ERateLimited, ae, "WeCom is rate limiting the desk; try again later")
	case codeBusy:
		return desk.Wrap(desk.EUnavailable, ae, "WeCom is busy; try again later")
	case codeInvalidToken, codeTokenExpired:
		return desk.Wrap(desk.EUnavailable, ae, "WeCom rejected the desk's access token")
	}
	return desk.Wrap(desk.EInternal, ae, "WeCom call failed")
}

// retryable says whether a call that got code may be tried again after a
// backoff.
func retryable(code int) bool {
	return code == codeBusy || code == codeFreqLimit || code == codeConcurrencyLimit
}
