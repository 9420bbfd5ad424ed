package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"
)

// WeCom is the desk's WeCom (企业微信) self-built app. With no corp id none
// of it is active and the desk behaves as without WeCom.
type WeCom struct {
	CorpID  string
	AgentID int64
	// Secret comes only from SERVICEDESK_WECOM_SECRET or the file named by
	// SERVICEDESK_WECOM_SECRET_FILE: a flag would show in ps.
	Secret string
	// PublicURL is the desk's external origin, from which the redirect
	// and deep-link URLs WeCom sees are built.
	PublicURL string
	// Base URLs of WeCom's API, OAuth page and SSO (QR) page: WeCom's own
	// hosts unless a test or the local demo points them at a fake.
	APIBase, OAuthBase, SSOBase string
	// AgentDepartment, when set, lets members of that department sign in
	// to the console as agents, their accounts created on first sign-in.
	AgentDepartment int64
	// NotifyDelay is how long after an event a WeCom card about it waits,
	// sent only if its recipient has not seen the event by then.
	NotifyDelay time.Duration
}

// DefaultNotifyDelay: see notify.DefaultDelay.
const DefaultNotifyDelay = 2 * time.Minute

// Enabled reports whether WeCom is configured.
func (w WeCom) Enabled() bool { return w.CorpID != "" }

func (w *WeCom) flags(fs *flag.FlagSet) {
	fs.StringVar(&w.CorpID, "wecom-corp-id", "", "WeCom corp id (企业ID); empty turns WeCom sign-in and notifications off. The app secret comes from "+
		EnvPrefix+"WECOM_SECRET or "+EnvPrefix+"WECOM_SECRET_FILE, never a flag")
	fs.Int64Var(&w.AgentID, "wecom-agent-id", 0, "the self-built app's AgentId")
	fs.StringVar(&w.PublicURL, "public-url", "", "the desk's external origin (https://desk.example.com), for the URLs WeCom redirects to and links into")
	fs.StringVar(&w.APIBase, "wecom-api-base", "", "WeCom API base URL (default https://qyapi.weixin.qq.com)")
	fs.StringVar(&w.OAuthBase, "wecom-oauth-base", "", "WeCom OAuth page base URL (default https://open.weixin.qq.com)")
	fs.StringVar(&w.SSOBase, "wecom-sso-base", "", "WeCom QR sign-in page base URL (default https://login.work.weixin.qq.com)")
	fs.DurationVar(&w.NotifyDelay, "wecom-notify-delay", DefaultNotifyDelay, "how long after a reply (or an invitation, a transfer…) a WeCom card about it is sent, if its recipient has not seen it by then")
	fs.Int64Var(&w.AgentDepartment, "wecom-agent-department", 0, "WeCom department id whose members may sign in to the console as agents (accounts created on first sign-in)")
}

// secret reads the app secret from the environment.
func (w *WeCom) secret(getenv func(string) string) (err error) {
	w.Secret, err = secretEnv(getenv, "WECOM_SECRET")
	return err
}

func (w WeCom) validate(dev bool) error {
	if !w.Enabled() {
		return nil
	}
	var errs []error
	if w.NotifyDelay < time.Second {
		errs = append(errs, errors.New("--wecom-notify-delay must be at least 1s"))
	}
	if w.AgentID <= 0 {
		errs = append(errs, errors.New("--wecom-agent-id must be the app's AgentId when --wecom-corp-id is set"))
	}
	if w.Secret == "" {
		errs = append(errs, fmt.Errorf("the WeCom app secret is required: set %sWECOM_SECRET or %sWECOM_SECRET_FILE", EnvPrefix, EnvPrefix))
	}
	u, err := url.Parse(w.PublicURL)
	switch {
	case w.PublicURL == "":
		errs = append(errs, errors.New("--public-url is required with WeCom: WeCom redirects back to it"))
	case err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		errs = append(errs, fmt.Errorf("--public-url %q must be an origin like https://desk.example.com", w.PublicURL))
	case u.Scheme != "https" && !(dev && u.Scheme == "http"):
		errs = append(errs, errors.New("--public-url must be https (http only with --dev)"))
	}
	for name, base := range map[string]string{"--wecom-api-base": w.APIBase, "--wecom-oauth-base": w.OAuthBase, "--wecom-sso-base": w.SSOBase} {
		if base == "" {
			continue
		}
		if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q must be an http(s) URL", name, base))
		}
	}
	return errors.Join(errs...)
}
