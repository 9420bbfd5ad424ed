package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

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

func scanArticle(s scanner) (kb.Article, error) {
	var a kb.Article
	var tags string
	var created, updated int64
	var published sql.NullInt64
	err := s.Scan(&a.ID, &a.Title, &a.Body, &a.Category, &tags, &a.Status, &a.AuthorID, &created, &updated, &published,
		&a.Views, &a.Helped, &a.NotHelped, &a.Version)
	a.Tags, a.CreatedAt, a.UpdatedAt, a.PublishedAt = decodeTags(tags), fromMillis(created), fromMillis(updated), fromNullMillis(published)
	return a, err
}

func (db *DB) articles(ctx context.Context, doing, query string, args ...any) ([]kb.Article, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, doing)
	}
	defer rows.Close()
	var out []kb.Article
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, dbError(err, doing)
		}
		out = append(out, a)
	}
	return out, dbError(rows.Err(), doing)
}

// Article returns one article with its body.
func (db *DB) Article(ctx context.Context, id string) (kb.Article, error) {
	a, err := scanArticle(db.read.QueryRowContext(ctx, `SELECT `+articleColumns+` FROM articles WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, desk.Errorf(desk.ENotFound, "article not found")
	}
	return a, dbError(err, "read article")
}

// Articles lists articles without their bodies, newest change first.
func (db *DB) Articles(ctx context.Context, f kb.Filter) ([]kb.Article, error) {
	var after int64
	var afterID string
	if f.After != nil {
		after, afterID = millis(f.After.UpdatedAt), f.After.ID
	}
	return db.articles(ctx, "list articles", `SELECT `+articleHead+`''`+articleTail+` FROM articles
		WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR category = ?2) AND (?3 = '' OR instr(lower(title), lower(?3)) > 0)
			AND (?4 = '' OR updated_at < ?5 OR (updated_at = ?5 AND id < ?4))
		ORDER BY updated_at DESC, id DESC LIMIT ?6`, f.Status, f.Category, f.Q, afterID, after, f.Limit)
}

// ChangedArticles lists articles changed after (after, afterID), oldest
// change first, bodies included.
func (db *DB) ChangedArticles(ctx context.Context, after time.Time, afterID string, limit int) ([]kb.Article, error) {
	return db.articles(ctx, "read changed articles", `SELECT `+articleColumns+` FROM articles
		WHERE updated_at > ?1 OR (updated_at = ?1 AND id > ?2) ORDER BY updated_at, id LIMIT ?3`, millis(after), afterID, limit)
}

// SaveArticle creates or updates an article, and adds v when not nil.
func (db *DB) SaveArticle(ctx context.Context, a kb.Article, prevVersion int, v *kb.Version) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run
		if prevVersion == 0 {
			if _, err := run.exec(ctx, `INSERT INTO articles (`+articleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)`,
				a.ID, a.Title, a.Body, a.Category, encodeTags(a.Tags), a.Status, a.AuthorID, millis(a.CreatedAt), millis(a.UpdatedAt),
				nullMillis(a.PublishedAt), a.Version); err != nil {
				return dbError(err, "create article")
			}
		} else {
			res, err := run.exec(ctx, `UPDATE articles SET title = ?, body = ?, category = ?, tags = ?, status = ?, author_id = ?,
				updated_at = ?, published_at = ?, version = ? WHERE id = ? AND version = ?`,
				a.Title, a.Body, a.Category, encodeTags(a.Tags), a.Status, a.AuthorID, millis(a.UpdatedAt), nullMillis(a.PublishedAt),
				a.Version, a.ID, prevVersion)
			if err != nil {
				return dbError(err, "save article")
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return desk.Errorf(desk.EConflict, "the article was saved again meanwhile; reload it")
			}
		}
		if v == nil {
			return nil
		}
		_, err := run.exec(ctx, `INSERT INTO article_versions (article_id, version, title, body, category, tags, author_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, v.ArticleID, v.Version, v.Title, v.Body, v.Category, encodeTags(v.Tags), v.AuthorID, millis(v.CreatedAt))
		return dbError(err, "save article version")
	})
}

// ArticleVersions lists an article's versions, newest first.
func (db *DB) ArticleVersions(ctx context.Context, id string, limit int) ([]kb.Version, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT article_id, version, title, body, category, tags, author_id, created_at
		FROM article_versions WHERE article_id = ? ORDER BY version DESC LIMIT ?`, id, limit)
	if err != nil {
		return nil, dbError(err, "read article versions")
	}
	defer rows.Close()
	var out []kb.Version
	for rows.Next() {
		var v kb.Version
		var tags string
		var at int64
		if err := rows.Scan(&v.ArticleID, &v.Version, &v.Title, &v.Body, &v.Category, &tags, &v.AuthorID, &at); err != nil {
			return nil, dbError(err, "read article versions")
		}
		v.Tags, v.CreatedAt = decodeTags(tags), fromMillis(at)
		out = append(out, v)
	}
	return out, dbError(rows.Err(), "read article versions")
}

// articleCounter is the column an event counts on its article.
var articleCounter = map[string]string{kb.EventView: "views", kb.EventHelped: "helped", kb.EventNotHelped: "not_helped"}

// RecordKBEvent stores e and counts a view or verdict on its article.
func (db *DB) RecordKBEvent(ctx context.Context, e kb.Event) error {
	ids, _ := json.Marshal(e.ArticleIDs)
	if e.ArticleIDs == nil {
		ids = []byte("[]")
	}
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run
		if _, err := run.exec(ctx, `INSERT INTO kb_events (at, kind, article_id, query, article_ids, resolved) VALUES (?, ?, ?, ?, ?, ?)`,
			millis(e.At), e.Kind, e.ArticleID, e.Query, string(ids), e.Resolved); err != nil {
			return dbError(err, "record kb event")
		}
		if col, ok := articleCounter[e.Kind]; ok {
			if _, err := run.exec(ctx, `UPDATE articles SET `+col+` = `+col+` + 1 WHERE id = ?`, e.ArticleID); err != nil {
				return dbError(err, "count on article")
			}
		}
		return nil
	})
}

// KBStats counts the events of [from, to).
func (db *DB) KBStats(ctx context.Context, from, to time.Time) (kb.Stats, error) {
	var st kb.Stats
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(kind = 'deflection'), 0), coalesce(sum(kind = 'deflection' AND resolved), 0),
		coalesce(sum(kind = 'view'), 0), count(DISTINCT CASE WHEN kind = 'view' THEN article_id END),
		coalesce(sum(kind = 'helped'), 0), coalesce(sum(kind = 'not_helped'), 0)
		FROM kb_events WHERE at >= ? AND at < ?`, millis(from), millis(to)).
		Scan(&st.Deflections, &st.Resolved, &st.Views, &st.ArticlesViewed, &st.Helped, &st.NotHelped)
	return st, dbError(err, "count kb events")
}

// ClaimAttachmentForArticle marks an unused upload as a knowledge-base
// article's picture (claim in the conversation's place).
func (db *DB) ClaimAttachmentForArticle(ctx context.Context, id, claim string) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		_, err := tx.(*convTx).run.exec(ctx, `UPDATE attachments SET conversation_id = ? WHERE id = ? AND conversation_id = ''`, claim, id)
		return dbError(err, "claim picture")
	})
}
