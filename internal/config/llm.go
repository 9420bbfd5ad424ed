package config

import (
	"errors"
	"flag"
	"net/url"
	"strings"
)

// LLM is the optional AI assistant's model: an OpenAI-compatible
// chat-completions endpoint (Qwen, DeepSeek, GLM and the like, hosted or
// on premises). Without a base URL the desk has no assistant.
type LLM struct {
	BaseURL string
	Model   string
	// APIKey comes only from SERVICEDESK_LLM_API_KEY or the file named by
	// SERVICEDESK_LLM_API_KEY_FILE: a flag would show in ps.
	APIKey string
	// AnswersPerHour caps the assistant's answers to one employee an hour.
	AnswersPerHour int
}

// Enabled reports whether an assistant is configured.
func (l LLM) Enabled() bool { return l.BaseURL != "" }

func (l *LLM) flags(fs *flag.FlagSet) {
	fs.StringVar(&l.BaseURL, "llm-base-url", "", "OpenAI-compatible API root for the AI assistant (e.g. https://dashscope.aliyuncs.com/compatible-mode/v1); empty: no assistant. "+
		"The key comes from "+EnvPrefix+"LLM_API_KEY or "+EnvPrefix+"LLM_API_KEY_FILE, never a flag")
	fs.StringVar(&l.Model, "llm-model", "", "the model the assistant asks (e.g. qwen-plus, deepseek-chat, glm-4)")
	fs.IntVar(&l.AnswersPerHour, "llm-answers-per-hour", 10, "most answers the assistant gives one employee an hour; past it requests go straight to the queue")
}

// key reads the API key from the environment.
func (l *LLM) key(getenv func(string) string) (err error) {
	l.APIKey, err = secretEnv(getenv, "LLM_API_KEY")
	return err
}

func (l LLM) validate() error {
	if !l.Enabled() {
		return nil
	}
	var errs []error
	if u, err := url.Parse(l.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("--llm-base-url must be an http(s) URL such as https://api.deepseek.com"))
	}
	if strings.TrimSpace(l.Model) == "" {
		errs = append(errs, errors.New("--llm-model is required with --llm-base-url"))
	}
	if l.AnswersPerHour < 1 {
		errs = append(errs, errors.New("--llm-answers-per-hour must be at least 1"))
	}
	return errors.Join(errs...)
}
