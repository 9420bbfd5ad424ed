// Package wecom is the desk's client of WeCom's (企业微信) server API for a
// self-built app (企业自建应用): the access token, OAuth2 web login inside
// WeCom (snsapi_base) and the web-login QR page for the console, member and
// department look-ups, and textcard app messages; plus the signed,
// single-use OAuth state that protects the login round trips.
//
// The client is hand-written rather than built on an SDK. xen0n/go-workwx,
// the best-kept Go SDK, is not served by the module proxy this project
// builds from; silenceper/wechat/v2 is, but it brings go-redis v8 (a second
// Redis client beside our v9) and logrus, keeps the token behind a
// per-process mutex only (every node fetches its own token, and nodes race
// each other's refreshes), neither invalidates nor retries on 40014/42001,
// and does not back off on -1/45009/45033. The desk uses five endpoints;
// the rules around them (one refresh per process, one per cluster through
// TokenCache, one refetch on an invalidated token, bounded jittered backoff,
// no secret or token in any log line or error string) are the hard part, and
// they are what this package holds.
//
// A login round trip, for either page: States.Issue(next) makes a state;
// the redirect_uri carries next in its query (WeCom keeps the state to 128
// letters and digits, so the path cannot ride in it); AuthorizeURL or
// SSOLoginURL sends the browser to WeCom; the callback checks
// States.Verify(state, next), then exchanges the code with UserID and, for
// a new face, reads User and DepartmentPath.
//
// Errors are *desk.Error values with the desk's codes; their causes say
// what WeCom answered. Callers tell cases apart with errors.Is against
// ErrNotMember, ErrCodeInvalid, ErrRecipientGone and ErrRateLimited, and
// with errors.As against *ConfigError, which names the setting an operator
// must fix.
package wecom
