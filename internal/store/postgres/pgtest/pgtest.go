// Package pgtest gives tests a PostgreSQL store of their own: a fresh
// schema in the server named by SERVICEDESK_TEST_POSTGRES_URL, dropped when
// the test ends, so parallel tests and packages never see each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/store/postgres"
)

// EnvURL names the variable holding the test server's URL, for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "SERVICEDESK_TEST_POSTGRES_URL"

// SkipMessage is why PostgreSQL tests skip when EnvURL is unset.
const SkipMessage = EnvURL + " not set: skipping PostgreSQL store tests"

// adminTimeout bounds creating and dropping a schema: both are instant on a
// healthy server, and a test should fail rather than hang on a sick one.
const adminTimeout = 30 * time.Second

// URL creates an empty schema sdtest_<random> and returns EnvURL with
// search_path set to it, for tests that open the store themselves (the
// composition root's end-to-end tests). The schema is dropped, with
// everything in it, when t ends. It skips t when EnvURL is unset.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skip(SkipMessage)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not the parse error: it would print the url and any password.
		t.Fatalf("%s must be a postgres:// URL", EnvURL)
	}
	schema := "sdtest_" + randomHex(8)

	admin(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin(t, base, "DROP SCHEMA "+schema+" CASCADE") })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a store on a fresh schema (see URL), closed when t ends.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	return open(t, URL(t))
}

// OpenKept returns a store on the schema named, created if missing and
// kept when t ends: for benchmarks whose data takes minutes to write, so a
// second run can reuse the first one's. It skips t when EnvURL is unset.
func OpenKept(t testing.TB, schema string) *postgres.DB {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skip(SkipMessage)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvURL)
	}
	admin(t, base, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return open(t, u.String())
}

func open(t testing.TB, u string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	// Registered after URL's cleanup, so it runs first: the pool is closed
	// before its schema is dropped.
	t.Cleanup(db.Close)
	return db
}

// admin runs one statement on its own short-lived connection.
func admin(t testing.TB, connString, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}
