package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/kb"
)

// The knowledge base: articles, their versions, and the events its
// figures count.

var _ kb.Store = (*DB)(nil)

// articleColumns has body third: lists select an empty string there.
const (
	articleHead    = `id, title, `
	articleTail    = `, category, tags, status, author_id, created_at, updated_at, published_at, views, helped, not_helped, version`
	articleColumns = articleHead + `body` + articleTail
)

func scanArticle(row pgx.Row) (kb.Article, error) {
	var a kb.Article
	var tags string
	err := row.Scan(&a.ID, &a.Title, &a.Body, &a.Category, &tags, &a.Status, &a.AuthorID, &a.CreatedAt, &a.UpdatedAt, &a.PublishedAt,
		&a.Views, &a.Helped, &a.NotHelped, &a.Version)
	a.Tags, a.CreatedAt, a.UpdatedAt = decodeTags(tags), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	if a.PublishedAt != nil {
		t := a.PublishedAt.UTC()
		a.PublishedAt = &t
	}
	return a, err
}

func (db *DB) articles(ctx context.Context, doing, query string, args ...any) ([]kb.Article, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, doing)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Article, error) { return scanArticle(r) })
	return out, dbError(err, doing)
}

// Article returns one article with its body.
func (db *DB) Article(ctx context.Context, id string) (kb.Article, error) {
	a, err := scanArticle(db.pool.QueryRow(ctx, `SELECT `+articleColumns+` FROM articles WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, desk.Errorf(desk.ENotFound, "article not found")
	}
	return a, dbError(err, "read article")
}

// Articles lists articles without their bodies, newest change first.
func (db *DB) Articles(ctx context.Context, f kb.Filter) ([]kb.Article, error) {
	var after time.Time
	var afterID string
	if f.After != nil {
		after, afterID = dbTime(f.After.UpdatedAt), f.After.ID
	}
	return db.articles(ctx, "list articles", `SELECT `+articleHead+`''`+articleTail+` FROM articles
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR category = $2) AND ($3 = '' OR strpos(lower(title), lower($3)) > 0)
			AND ($4 = '' OR (updated_at, id) < ($5, $4))
		ORDER BY updated_at DESC, id DESC LIMIT $6`, f.Status, f.Category, f.Q, afterID, after, f.Limit)
}

// ChangedArticles lists articles changed after (after, afterID), oldest
// change first, bodies included.
func (db *DB) ChangedArticles(ctx context.Context, after time.Time, afterID string, limit int) ([]kb.Article, error) {
	return db.articles(ctx, "read changed articles", `SELECT `+articleColumns+` FROM articles
		WHERE (updated_at, id) > ($1, $2) ORDER BY updated_at, id LIMIT $3`, dbTime(after), afterID, limit)
}

// SaveArticle creates or updates an article, and adds v when not nil.
func (db *DB) SaveArticle(ctx context.Context, a kb.Article, prevVersion int, v *kb.Version) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if prevVersion == 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO articles (`+articleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0, $11)`,
				a.ID, a.Title, a.Body, a.Category, encodeTags(a.Tags), a.Status, a.AuthorID, dbTime(a.CreatedAt), dbTime(a.UpdatedAt),
				dbTimePtr(a.PublishedAt), a.Version); err != nil {
				return dbError(err, "create article")
			}
		} else {
			tag, err := tx.Exec(ctx, `UPDATE articles SET title = $1, body = $2, category = $3, tags = $4, status = $5, author_id = $6,
				updated_at = $7, published_at = $8, version = $9 WHERE id = $10 AND version = $11`,
				a.Title, a.Body, a.Category, encodeTags(a.Tags), a.Status, a.AuthorID, dbTime(a.UpdatedAt), dbTimePtr(a.PublishedAt),
				a.Version, a.ID, prevVersion)
			if err != nil {
				return dbError(err, "save article")
			}
			if tag.RowsAffected() == 0 {
				return desk.Errorf(desk.EConflict, "the article was saved again meanwhile; reload it")
			}
		}
		if v == nil {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO article_versions (article_id, version, title, body, category, tags, author_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, v.ArticleID, v.Version, v.Title, v.Body, v.Category, encodeTags(v.Tags), v.AuthorID, dbTime(v.CreatedAt))
		return dbError(err, "save article version")
	})
}

// ArticleVersions lists an article's versions, newest first.
func (db *DB) ArticleVersions(ctx context.Context, id string, limit int) ([]kb.Version, error) {
	rows, err := db.pool.Query(ctx, `SELECT article_id, version, title, body, category, tags, author_id, created_at
		FROM article_versions WHERE article_id = $1 ORDER BY version DESC LIMIT $2`, id, limit)
	if err != nil {
		return nil, dbError(err, "read article versions")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Version, error) {
		var v kb.Version
		var tags string
		err := r.Scan(&v.ArticleID, &v.Version, &v.Title, &v.Body, &v.Category, &tags, &v.AuthorID, &v.CreatedAt)
		v.Tags, v.CreatedAt = decodeTags(tags), v.CreatedAt.UTC()
		return v, err
	})
	return out, dbError(err, "read article versions")
}

// articleCounter is the column an event counts on its article.
var articleCounter = map[string]string{kb.EventView: "views", kb.EventHelped: "helped", kb.EventNotHelped: "not_helped"}

// RecordKBEvent stores e and counts a view or verdict on its article.
func (db *DB) RecordKBEvent(ctx context.Context, e kb.Event) error {
	ids, _ := json.Marshal(e.ArticleIDs)
	if e.ArticleIDs == nil {
		ids = []byte("[]")
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO kb_events (at, kind, article_id, query, article_ids, resolved) VALUES ($1, $2, $3, $4, $5, $6)`,
			dbTime(e.At), e.Kind, e.ArticleID, e.Query, string(ids), e.Resolved); err != nil {
			return dbError(err, "record kb event")
		}
		if col, ok := articleCounter[e.Kind]; ok {
			if _, err := tx.Exec(ctx, `UPDATE articles SET `+col+` = `+col+` + 1 WHERE id = $1`, e.ArticleID); err != nil {
				return dbError(err, "count on article")
			}
		}
		return nil
	})
}

// KBStats counts the events of [from, to).
func (db *DB) KBStats(ctx context.Context, from, to time.Time) (kb.Stats, error) {
	var st kb.Stats
	err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'deflection'), count(*) FILTER (WHERE kind = 'deflection' AND resolved),
		count(*) FILTER (WHERE kind = 'view'), count(DISTINCT article_id) FILTER (WHERE kind = 'view'),
		count(*) FILTER (WHERE kind = 'helped'), count(*) FILTER (WHERE kind = 'not_helped')
		FROM kb_events WHERE at >= $1 AND at < $2`, dbTime(from), dbTime(to)).
		Scan(&st.Deflections, &st.Resolved, &st.Views, &st.ArticlesViewed, &st.Helped, &st.NotHelped)
	return st, dbError(err, "count kb events")
}

// ClaimAttachmentForArticle marks an unused upload as a knowledge-base
// article's picture (claim in the conversation's place).
func (db *DB) ClaimAttachmentForArticle(ctx context.Context, id, claim string) error {
	_, err := db.pool.Exec(ctx, `UPDATE attachments SET conversation_id = $1 WHERE id = $2 AND conversation_id = ''`, claim, id)
	return dbError(err, "claim picture")
}
