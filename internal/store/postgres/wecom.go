package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

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
	tag, err := db.pool.Exec(ctx, `UPDATE agents SET wecom_userid = $1 WHERE id = $2`, userID, agentID)
	if err != nil {
		if desk.ErrorCode(dbError(err, "")) == desk.EConflict {
			return desk.Errorf(desk.EConflict, "that WeCom member is bound to another agent")
		}
		return dbError(err, "bind agent to WeCom")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}

// AgentWeComUserID returns the WeCom member an agent is bound to, "" if
// none (or no such agent).
func (db *DB) AgentWeComUserID(ctx context.Context, agentID string) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT wecom_userid FROM agents WHERE id = $1 AND disabled_at IS NULL`, agentID).Scan(&id)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", dbError(err, "read agent's WeCom member")
	}
	return id, nil
}

// WeComAgentIDs lists the enabled agents bound to a WeCom member: who
// hears of a conversation queued while nobody is online.
func (db *DB) WeComAgentIDs(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM agents WHERE wecom_userid <> '' AND disabled_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, dbError(err, "list agents bound to WeCom")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbError(err, "list agents bound to WeCom")
	}
	return ids, nil
}
