// Package testenv gives tests in other packages a real Postgres and a real Temporal server,
// shared by all the tests of one test binary and stopped when it ends:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
//
// Integration tests skip only when asked to with -short, never because something is missing.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/migrations"
)

// searchAttributes are registered on the shared Temporal server, as docker-compose.yml does in
// production.
var searchAttributes = map[string]string{
	"ScreeningStatus": "Keyword",
	"TenantId":        "Keyword",
	"Provider":        "KeywordList",
	"CandidateId":     "KeywordList",
}

// shared holds what this test binary started, for Run to stop.
var shared struct {
	mu       sync.Mutex
	postgres *devenv.Postgres
	pgDir    string
	db       *database
	temporal *devenv.Temporal
}

// Run is for TestMain: it runs the tests, then stops whatever shared servers they started.
func Run(m *testing.M) int {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var errs []error
	if shared.temporal != nil {
		errs = append(errs, shared.temporal.Stop())
	}
	if shared.db != nil {
		// A throwaway cluster goes away whole; on $DATABASE_URL's server we clean up after ourselves.
		if shared.postgres == nil {
			errs = append(errs, dropDatabase(shared.db.admin, shared.db.template))
		}
		errs = append(errs, shared.db.admin.Close())
	}
	if shared.postgres != nil {
		errs = append(errs, shared.postgres.Stop())
	}
	if shared.pgDir != "" {
		errs = append(errs, os.RemoveAll(shared.pgDir))
	}
	return errors.Join(errs...)
}

// database is the Postgres server the tests of this binary get their databases from.
type database struct {
	adminURL string  // any database of the server; CREATE DATABASE runs there
	admin    *sql.DB // a pool on adminURL
	template string  // migrated once; every test database is a copy of it
}

var sharedDatabase = sync.OnceValues(func() (*database, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL := os.Getenv("DATABASE_URL")
	if adminURL == "" {
		pg, err := startPostgres(ctx)
		if err != nil {
			return nil, err
		}
		adminURL = pg.AdminURL()
	}
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	d := &database{adminURL: adminURL, admin: admin, template: newDatabaseName("template")}
	shared.mu.Lock()
	shared.db = d
	shared.mu.Unlock()

	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(d.template)); err != nil {
		return nil, fmt.Errorf("testenv: create template database: %w", err)
	}
	templateURL, err := withDatabase(adminURL, d.template)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", templateURL)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	// A database cannot be copied while anyone is connected to it, so this pool must be closed
	// before the first test database is created.
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		return nil, fmt.Errorf("testenv: migrate template database: %w", err)
	}
	return d, nil
})

// startPostgres starts this binary's throwaway cluster.
func startPostgres(ctx context.Context) (*devenv.Postgres, error) {
	dir, err := os.MkdirTemp("", "screenflow-test-postgres-")
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	shared.mu.Lock()
	shared.pgDir = dir
	shared.mu.Unlock()
	// MkdirTemp makes it 0700; when we are root the server runs as another user and must enter it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: dir + "/data", NoFsync: true})
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	shared.mu.Lock()
	shared.postgres = pg
	shared.mu.Unlock()
	return pg, nil
}

// NewDB returns a connection to a fresh, migrated database private to this test, dropped at
// cleanup. The server is $DATABASE_URL's when set, else a throwaway cluster per test binary.
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, _ := NewDBURL(t)
	return db
}

// NewDBURL is NewDB that also returns the database's URL, for code under test that opens its own
// pool.
func NewDBURL(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Postgres; run without -short")
	}
	d, err := sharedDatabase()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := newDatabaseName("test")
	if _, err := d.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE "+pq.QuoteIdentifier(d.template)); err != nil {
		t.Fatalf("testenv: create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(d.admin, name); err != nil {
			t.Error(err)
		}
	})
	u, err := withDatabase(d.adminURL, name)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlx.Open("postgres", u)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("testenv: connect to test database: %v", err)
	}
	return db, u
}

func dropDatabase(admin *sql.DB, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// FORCE: a pool the code under test forgot to close must not fail the test run.
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("testenv: drop database %s: %w", name, err)
	}
	return nil
}

// newDatabaseName returns a unique name, prefixed so that leftovers of crashed runs on a shared
// server are easy to recognise.
func newDatabaseName(kind string) string {
	return "sftest_" + kind + "_" + strings.ToLower(rand.Text())
}

// withDatabase returns the Postgres URL u pointing at another database of the same server.
func withDatabase(u, name string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		return "", fmt.Errorf("testenv: DATABASE_URL must be a postgres:// URL, got %q", u)
	}
	parsed.Path = "/" + name
	return parsed.String(), nil
}

var sharedTemporal = sync.OnceValues(func() (*devenv.Temporal, error) {
	root, err := devenv.RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	// No timeout: a cold build of the CLI takes minutes and is bounded by go test's -timeout.
	cli, err := devenv.EnsureTemporalCLI(context.Background(), root, os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	tmp, err := devenv.StartTemporal(context.Background(), devenv.TemporalOptions{
		CLIPath:          cli,
		Headless:         true,
		SearchAttributes: searchAttributes,
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	shared.mu.Lock()
	shared.temporal = tmp
	shared.mu.Unlock()
	return tmp, nil
})

// Temporal returns this test binary's shared Temporal dev server: in memory, headless, with the
// search attributes of searchAttributes, started on first use and stopped by Run. A missing CLI is built
// with devenv.EnsureTemporalCLI.
func Temporal(t testing.TB) *devenv.Temporal {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the Temporal dev server; run without -short")
	}
	tmp, err := sharedTemporal()
	if err != nil {
		t.Fatal(err)
	}
	return tmp
}

// NewTemporalClient dials the shared Temporal server; the client is closed at cleanup.
func NewTemporalClient(t testing.TB) client.Client {
	t.Helper()
	tmp := Temporal(t)
	// os.Stderr rather than t.Output(): the SDK may log from its own goroutines after the test
	// has ended, and writing to a finished test's output panics.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{
		HostPort:  tmp.Address,
		Namespace: tmp.Namespace,
		Logger:    tlog.NewStructuredLogger(logger),
	})
	if err != nil {
		t.Fatalf("testenv: dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
