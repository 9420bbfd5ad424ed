package main

import (
	"fmt"
	"log/slog"

	"github.com/servicedesk/servicedesk/internal/assistant"
	"github.com/servicedesk/servicedesk/internal/config"
	"github.com/servicedesk/servicedesk/internal/firstline"
)

// newAssistant wires the optional AI assistant: without --llm-base-url the
// service is there but not Enabled, and nothing of it shows.
func newAssistant(cfg config.Config, n *node, log *slog.Logger) (*firstline.Service, error) {
	fl := firstline.Config{Desk: n.desks, Articles: n.kb, Store: n.db, Bus: n.bus, Switch: n.settings,
		AnswersPerHour: cfg.LLM.AnswersPerHour, Log: log}
	if cfg.LLM.Enabled() {
		client, err := assistant.New(assistant.Config{BaseURL: cfg.LLM.BaseURL, Model: cfg.LLM.Model, APIKey: cfg.LLM.APIKey})
		if err != nil {
			return nil, fmt.Errorf("--llm-base-url: %w", err)
		}
		fl.Model = client
		log.Info("AI assistant on", "model", cfg.LLM.Model, "answers_per_hour", cfg.LLM.AnswersPerHour)
	}
	return firstline.New(fl), nil
}
