package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/servicedesk/servicedesk/internal/staff"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.AgentStore = (*DB)(nil)

// CreateAgent stores a new agent. The caller has validated the fields and
// hashed the password; a taken username or id fails with EConflict.
func (db *DB) CreateAgent(ctx context.Context, a desk.Agent) error {
	_, err := db.write.ExecContext(ctx,
		`INSERT INTO agents (id, username, name, password_hash, role) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Username, a.Name, a.PasswordHash, roleOf(a))
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			// username is the table's only UNIQUE column.
			return desk.Wrap(desk.EConflict, err, "username already taken")
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return desk.Wrap(desk.EConflict, err, "agent id already exists")
		}
	}
	if err != nil {
		return fmt.Errorf("create agent: %w", err)
	}
	return nil
}

// AgentByUsername returns the agent with exactly this username. Disabled
// agents are not found: desk.Agent has no field to say so, and every caller
// today (login, the WebSocket handshake) must turn them away.
func (db *DB) AgentByUsername(ctx context.Context, username string) (desk.Agent, error) {
	return db.agentWhere(ctx, "username", username)
}

// AgentByID returns the agent with this id; disabled agents are not found.
func (db *DB) AgentByID(ctx context.Context, id string) (desk.Agent, error) {
	return db.agentWhere(ctx, "id", id)
}

// agentWhere looks one agent up by a unique column. column is always a
// constant from this package, never caller input.
func (db *DB) agentWhere(ctx context.Context, column, value string) (desk.Agent, error) {
	var a desk.Agent
	err := db.read.QueryRowContext(ctx,
		`SELECT id, username, name, password_hash, role FROM agents
		 WHERE `+column+` = ? AND disabled_at IS NULL`, value,
	).Scan(&a.ID, &a.Username, &a.Name, &a.PasswordHash, &a.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Agent{}, desk.Errorf(desk.ENotFound, "agent not found")
	}
	if err != nil {
		return desk.Agent{}, fmt.Errorf("look up agent by %s: %w", column, err)
	}
	return a, nil
}

// Agents lists the enabled agents by name, for pickers in the console.
func (db *DB) Agents(ctx context.Context) ([]desk.Agent, error) {
	rows, err := db.read.QueryContext(ctx,
		`SELECT id, username, name, role FROM agents WHERE disabled_at IS NULL ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []desk.Agent
	for rows.Next() {
		var a desk.Agent
		if err := rows.Scan(&a.ID, &a.Username, &a.Name, &a.Role); err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAgentDisabled disables or re-enables an agent.
func (db *DB) SetAgentDisabled(ctx context.Context, id string, disabled bool) error {
	query := `UPDATE agents SET disabled_at = NULL WHERE id = ?`
	if disabled {
		query = `UPDATE agents SET disabled_at = COALESCE(disabled_at, CURRENT_TIMESTAMP) WHERE id = ?`
	}
	res, err := db.write.ExecContext(ctx, query, id)
	if err != nil {
		return fmt.Errorf("set agent disabled: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}

// DisabledAgentIDs lists the ids of every disabled agent.
func (db *DB) DisabledAgentIDs(ctx context.Context) ([]string, error) {
	return db.ids(ctx, "disabled agents", `SELECT id FROM agents WHERE disabled_at IS NOT NULL`)
}

// SetAgentDisabledByUsername disables or re-enables the agent with that
// username (ENotFound if none): how the demo account is switched with
// --dev.
func (db *DB) SetAgentDisabledByUsername(ctx context.Context, username string, disabled bool) error {
	var id string
	err := db.write.QueryRowContext(ctx, `SELECT id FROM agents WHERE username = ?`, username).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	if err != nil {
		return fmt.Errorf("look up agent by username: %w", err)
	}
	return db.SetAgentDisabled(ctx, id, disabled)
}

// SetAgentRole makes an agent an admin or a plain agent again.
func (db *DB) SetAgentRole(ctx context.Context, id, role string) error {
	if role != desk.AgentRoleAgent && role != desk.AgentRoleAdmin {
		return desk.Errorf(desk.EInvalid, "role must be %q or %q", desk.AgentRoleAgent, desk.AgentRoleAdmin)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE agents SET role = ? WHERE id = ?`, role, id)
	if err != nil {
		return fmt.Errorf("set agent role: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}

func roleOf(a desk.Agent) string {
	if a.Role == "" {
		return desk.AgentRoleAgent
	}
	return a.Role
}

// StaffMembers lists every agent, disabled ones too, for admins.
func (db *DB) StaffMembers(ctx context.Context) ([]staff.Member, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, username, name, role, disabled_at IS NOT NULL, wecom_userid FROM agents ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	defer rows.Close()
	var out []staff.Member
	for rows.Next() {
		var m staff.Member
		if err := rows.Scan(&m.ID, &m.Username, &m.Name, &m.Role, &m.Disabled, &m.WeComUserID); err != nil {
			return nil, fmt.Errorf("list staff: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetAgentName renames an agent (disabled ones too).
func (db *DB) SetAgentName(ctx context.Context, id, name string) error {
	return db.setAgent(ctx, `UPDATE agents SET name = ? WHERE id = ?`, name, id)
}

// SetAgentPassword replaces an agent's password hash.
func (db *DB) SetAgentPassword(ctx context.Context, id, hash string) error {
	return db.setAgent(ctx, `UPDATE agents SET password_hash = ? WHERE id = ?`, hash, id)
}

func (db *DB) setAgent(ctx context.Context, query string, args ...any) error {
	res, err := db.write.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update agent: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}
