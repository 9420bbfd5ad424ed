package sqlite

import (
	"context"
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
