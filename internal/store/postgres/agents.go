package postgres

import (
	"context"
	"errors"
	"github.com/servicedesk/servicedesk/internal/staff"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.AgentStore = (*DB)(nil)

// CreateAgent stores a new agent. The caller has validated the fields and
// hashed the password; a taken username or id fails with EConflict.
func (db *DB) CreateAgent(ctx context.Context, a desk.Agent) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO agents (id, username, name, password_hash, role) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.Username, a.Name, a.PasswordHash, roleOf(a))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		if pe.ConstraintName == "agents_pkey" {
			return desk.Wrap(desk.EConflict, err, "agent id already exists")
		}
		return desk.Wrap(desk.EConflict, err, "username already taken")
	}
	return dbError(err, "create agent")
}

// AgentByUsername returns the agent with exactly this username. Disabled
// agents are not found, as in the SQLite store.
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
	err := db.pool.QueryRow(ctx,
		`SELECT id, username, name, password_hash, role FROM agents
		 WHERE `+column+` = $1 AND disabled_at IS NULL`, value,
	).Scan(&a.ID, &a.Username, &a.Name, &a.PasswordHash, &a.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return desk.Agent{}, desk.Errorf(desk.ENotFound, "agent not found")
	}
	if err != nil {
		return desk.Agent{}, dbError(err, "look up agent by "+column)
	}
	return a, nil
}

// Agents lists the enabled agents by name, for pickers in the console.
func (db *DB) Agents(ctx context.Context) ([]desk.Agent, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT id, username, name, role FROM agents WHERE disabled_at IS NULL ORDER BY name, id COLLATE "C"`)
	if err != nil {
		return nil, dbError(err, "list agents")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.Agent, error) {
		var a desk.Agent
		err := row.Scan(&a.ID, &a.Username, &a.Name, &a.Role)
		return a, err
	})
	return out, dbError(err, "list agents")
}

// SetAgentDisabled disables or re-enables an agent.
func (db *DB) SetAgentDisabled(ctx context.Context, id string, disabled bool) error {
	query := `UPDATE agents SET disabled_at = NULL WHERE id = $1`
	if disabled {
		query = `UPDATE agents SET disabled_at = COALESCE(disabled_at, now()) WHERE id = $1`
	}
	tag, err := db.pool.Exec(ctx, query, id)
	if err != nil {
		return dbError(err, "set agent disabled")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}

// DisabledAgentIDs lists the ids of every disabled agent.
func (db *DB) DisabledAgentIDs(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM agents WHERE disabled_at IS NOT NULL`)
	if err != nil {
		return nil, dbError(err, "disabled agents")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, dbError(err, "disabled agents")
}

// SetAgentDisabledByUsername disables or re-enables the agent with that
// username (ENotFound if none): how the demo account is switched with
// --dev.
func (db *DB) SetAgentDisabledByUsername(ctx context.Context, username string, disabled bool) error {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT id FROM agents WHERE username = $1`, username).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	if err != nil {
		return dbError(err, "look up agent by username")
	}
	return db.SetAgentDisabled(ctx, id, disabled)
}

// SetAgentRole makes an agent an admin or a plain agent again.
func (db *DB) SetAgentRole(ctx context.Context, id, role string) error {
	if role != desk.AgentRoleAgent && role != desk.AgentRoleAdmin {
		return desk.Errorf(desk.EInvalid, "role must be %q or %q", desk.AgentRoleAgent, desk.AgentRoleAdmin)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE agents SET role = $1 WHERE id = $2`, role, id)
	if err != nil {
		return dbError(err, "set agent role")
	}
	if tag.RowsAffected() == 0 {
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
	rows, err := db.pool.Query(ctx, `SELECT id, username, name, role, disabled_at IS NOT NULL, wecom_userid FROM agents ORDER BY name, id COLLATE "C"`)
	if err != nil {
		return nil, dbError(err, "list staff")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (staff.Member, error) {
		var m staff.Member
		err := r.Scan(&m.ID, &m.Username, &m.Name, &m.Role, &m.Disabled, &m.WeComUserID)
		return m, err
	})
	return out, dbError(err, "list staff")
}

// SetAgentName renames an agent (disabled ones too).
func (db *DB) SetAgentName(ctx context.Context, id, name string) error {
	defer db.convs.clear() // participants carry names
	return db.setAgent(ctx, `UPDATE agents SET name = $1 WHERE id = $2`, name, id)
}

// SetAgentPassword replaces an agent's password hash.
func (db *DB) SetAgentPassword(ctx context.Context, id, hash string) error {
	return db.setAgent(ctx, `UPDATE agents SET password_hash = $1 WHERE id = $2`, hash, id)
}

func (db *DB) setAgent(ctx context.Context, query string, args ...any) error {
	tag, err := db.pool.Exec(ctx, query, args...)
	if err != nil {
		return dbError(err, "update agent")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.ENotFound, "agent not found")
	}
	return nil
}
