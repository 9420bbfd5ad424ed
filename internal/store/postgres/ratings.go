package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

const ratingColumns = `conversation_id, resolved_at, employee_id, agent_id, score, comment, created_at, updated_at`

func (r reader) Rating(ctx context.Context, conversationID string, resolvedAt time.Time) (desk.Rating, error) {
	var x desk.Rating
	var resolved, created, updated int64
	err := r.q.QueryRow(ctx, `SELECT `+ratingColumns+` FROM ratings WHERE conversation_id = $1 AND resolved_at = $2`,
		conversationID, resolvedAt.UnixMilli()).Scan(&x.ConversationID, &resolved, &x.EmployeeID, &x.AgentID, &x.Score, &x.Comment, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, desk.Errorf(desk.ENotFound, "not rated")
	}
	x.ResolvedAt, x.CreatedAt, x.UpdatedAt = time.UnixMilli(resolved).UTC(), time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return x, dbError(err, "read rating")
}

func (x *tx) SaveRating(ctx context.Context, r desk.Rating) error {
	_, err := x.t.Exec(ctx, `INSERT INTO ratings (`+ratingColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (conversation_id, resolved_at) DO UPDATE SET score = excluded.score, comment = excluded.comment, updated_at = excluded.updated_at`,
		r.ConversationID, r.ResolvedAt.UnixMilli(), r.EmployeeID, r.AgentID, r.Score, r.Comment, r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli())
	return dbError(err, "save rating")
}

func (db *DB) RatingsSince(ctx context.Context, from, to time.Time) ([]desk.AgentRatings, int, int, error) {
	rows, err := db.pool.Query(ctx, `SELECT agent_id, score, count(*) FROM ratings
		WHERE created_at >= $1 AND created_at < $2 GROUP BY agent_id, score ORDER BY agent_id`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, 0, 0, dbError(err, "sum ratings")
	}
	var out []desk.AgentRatings
	for rows.Next() {
		var agent string
		var score, n int
		if err := rows.Scan(&agent, &score, &n); err != nil {
			rows.Close()
			return nil, 0, 0, dbError(err, "sum ratings")
		}
		if len(out) == 0 || out[len(out)-1].AgentID != agent {
			out = append(out, desk.AgentRatings{AgentID: agent})
		}
		if score >= 1 && score <= 5 {
			out[len(out)-1].Scores[score-1] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, 0, dbError(err, "sum ratings")
	}
	var resolved, rated int
	err = db.pool.QueryRow(ctx, `SELECT count(*), count(r.conversation_id) FROM conversations c
		LEFT JOIN ratings r ON r.conversation_id = c.id AND r.resolved_at = (extract(epoch FROM c.resolved_at) * 1000)::bigint
		WHERE c.status = 'resolved' AND c.resolved_at >= $1 AND c.resolved_at < $2 AND c.assignee_id <> ''`, dbTime(from), dbTime(to)).Scan(&resolved, &rated)
	return out, resolved, rated, dbError(err, "count resolved")
}

// TeamRatingsSince sums up the ratings given in [from, to) per team the
// rated conversations were routed to.
func (db *DB) TeamRatingsSince(ctx context.Context, from, to time.Time) ([]desk.TeamRatings, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.team_id, r.score, count(*) FROM ratings r JOIN conversations c ON c.id = r.conversation_id
		WHERE r.created_at >= $1 AND r.created_at < $2 AND c.team_id <> '' GROUP BY c.team_id, r.score ORDER BY c.team_id`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, dbError(err, "sum team ratings")
	}
	defer rows.Close()
	var out []desk.TeamRatings
	for rows.Next() {
		var team string
		var score, n int
		if err := rows.Scan(&team, &score, &n); err != nil {
			return nil, dbError(err, "sum team ratings")
		}
		if len(out) == 0 || out[len(out)-1].TeamID != team {
			out = append(out, desk.TeamRatings{TeamID: team})
		}
		if score >= 1 && score <= 5 {
			out[len(out)-1].Scores[score-1] += n
		}
	}
	return out, dbError(rows.Err(), "sum team ratings")
}
