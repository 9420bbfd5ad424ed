package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// AgentByWeComUserID returns the enabled agent bound to a WeCom member.
func (db *DB) AgentByWeComUserID(ctx context.Context, userID string) (desk.Agent, error) {
	if userID == "" {
		return desk.Agent{}, desk.Errorf(desk.ENotFound, "agent not found")
	}
	return db.agentWhere(ctx, "wecom_userid", userID)
}

// BindAgentWeCom binds an agent to a WeCom member ("" unbinds). A member
// already bound to another agent is EConflict.
func (db *DB) BindAgentWeCom(ctx context.Context, agentID, userID string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE agents SET wecom_userid = ? WHERE id = ?`, userID, agentID)
	if err != nil {
		if desk.ErrorCode(dbError(err, "")) == desk.EConflict {
			return desk.Errorf(desk.EConflict, "that WeCom member is bound to another agent")
		}
		return fmt.Errorf("bind agent to WeCom: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}

// AgentWeComUserID returns the WeCom member an agent is bound to, "" if
// none (or no such agent).
func (db *DB) AgentWeComUserID(ctx context.Context, agentID string) (string, error) {
	var id string
	err := db.read.QueryRowContext(ctx, `SELECT wecom_userid FROM agents WHERE id = ? AND disabled_at IS NULL`, agentID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read agent's WeCom member: %w", err)
	}
	return id, nil
}

// WeComAgentIDs lists the enabled agents bound to a WeCom member: who
// hears of a conversation queued while nobody is online.
func (db *DB) WeComAgentIDs(ctx context.Context) ([]string, error) {
	return db.ids(ctx, "list agents bound to WeCom", `SELECT id FROM agents WHERE wecom_userid <> '' AND disabled_at IS NULL ORDER BY id`)
}
