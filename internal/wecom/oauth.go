package wecom

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// maxCodeBytes is WeCom's documented bound of an OAuth code.
const maxCodeBytes = 512

// AuthorizeURL is where the H5 page sends an employee without a session,
// inside WeCom: OAuth2 web login of the self-built app with scope
// snsapi_base (构造网页授权链接). WeCom redirects to redirectURI with code and
// state appended. The parameters go in the documented order, and the
// #wechat_redirect fragment is what tells the WeCom client to attach the
// member's identity.
func (c *Client) AuthorizeURL(redirectURI, state string) string {
	return c.cfg.OAuthBase + "/connect/oauth2/authorize" +
		"?appid=" + url.QueryEscape(c.cfg.CorpID) +
		"&redirect_uri=" + url.QueryEscape(redirectURI) +
		"&response_type=code&scope=snsapi_base" +
		"&state=" + url.QueryEscape(state) +
		"&agentid=" + strconv.FormatInt(c.cfg.AgentID, 10) +
		"#wechat_redirect"
}

// SSOLoginURL is the web-login page for the console outside WeCom
// (企业微信Web登录, 构造企业微信登录链接): a QR code to scan with WeCom, or
// a one-click login where the desktop client is signed in. login_type
// CorpApp is the self-built app's flavour; appid is the corp id. WeCom
// redirects to redirectURI with code and state.
func (c *Client) SSOLoginURL(redirectURI, state string) string {
	return c.cfg.SSOBase + "/wwlogin/sso/login" +
		"?login_type=CorpApp" +
		"&appid=" + url.QueryEscape(c.cfg.CorpID) +
		"&agentid=" + strconv.FormatInt(c.cfg.AgentID, 10) +
		"&redirect_uri=" + url.QueryEscape(redirectURI) +
		"&state=" + url.QueryEscape(state)
}

// UserID exchanges an OAuth or web-login code for the member's userid
// (GET /cgi-bin/auth/getuserinfo). A non-member (openid or external_userid
// and no userid) is ErrNotMember; a used, expired or unknown code is
// ErrCodeInvalid, on which a caller may restart the login once.
func (c *Client) UserID(ctx context.Context, code string) (string, error) {
	if code == "" || len(code) > maxCodeBytes {
		return "", desk.Errorf(desk.EInvalid, "the sign-in callback carries no valid code")
	}
	var out struct {
		UserID       string `json:"userid"`
		UserIDLegacy string `json:"UserId"` // older docs and responses
		OpenID       string `json:"openid"`
		External     string `json:"external_userid"`
	}
	err := c.call(ctx, http.MethodGet, "/cgi-bin/auth/getuserinfo", url.Values{"code": {code}}, nil, &out)
	if err != nil {
		return "", err
	}
	id := out.UserID
	if id == "" {
		id = out.UserIDLegacy
	}
	if id == "" {
		return "", desk.Wrap(desk.EForbidden, ErrNotMember, "only members of the company can use the desk")
	}
	return id, nil
}
