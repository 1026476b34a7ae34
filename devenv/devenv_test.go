package devenv_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/devenv/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestRepoRoot(t *testing.T) {
	root, err := devenv.RepoRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	require.DirExists(t, filepath.Join(root, "devenv"))
}

// postgresParent returns a temporary directory that the postgres user can enter when the tests
// run as root: t.TempDir creates two levels of 0700 directories.
func postgresParent(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	return dir
}

func TestStartPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts Postgres; run without -short")
	}
	ctx := t.Context()
	dir := filepath.Join(postgresParent(t), "cluster")

	start := time.Now()
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { pg.Stop() })
	t.Logf("fresh cluster (initdb + start): %s", time.Since(start))

	db, err := sqlx.Open("postgres", pg.URL)
	require.NoError(t, err)
	var name string
	require.NoError(t, db.GetContext(ctx, &name, "SELECT current_database()"))
	require.Equal(t, "screenflow", name)
	_, err = db.ExecContext(ctx, "CREATE TABLE kept (id int)")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	admin, err := sqlx.Open("postgres", pg.AdminURL())
	require.NoError(t, err)
	require.NoError(t, admin.GetContext(ctx, &name, "SELECT current_database()"))
	require.Equal(t, "postgres", name)
	require.NoError(t, admin.Close())

	require.NoError(t, pg.Stop())
	require.NoError(t, pg.Stop(), "Stop is idempotent")
	require.FileExists(t, filepath.Join(dir, "postgres.log"))

	// The same directory again: no initdb, the data is still there.
	start = time.Now()
	pg2, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { pg2.Stop() })
	t.Logf("existing cluster (start): %s", time.Since(start))
	db, err = sqlx.Open("postgres", pg2.URL)
	require.NoError(t, err)
	defer db.Close()
	var kept *string
	require.NoError(t, db.GetContext(ctx, &kept, "SELECT to_regclass('kept')::text"))
	require.NotNil(t, kept, "table created before the restart")
	require.NoError(t, pg2.Stop())
}

func TestStartPostgresExplainsUnreachableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to another user")
	}
	dir := filepath.Join(t.TempDir(), "cluster") // t.TempDir is 0700: the postgres user cannot enter it
	_, err := devenv.StartPostgres(t.Context(), devenv.PostgresOptions{Dir: dir})
	require.ErrorContains(t, err, "cannot enter")
}

func TestEnsureTemporalCLIFromEnv(t *testing.T) {
	cli := filepath.Join(t.TempDir(), "temporal")
	require.NoError(t, os.WriteFile(cli, []byte("#!/bin/sh\n"), 0o755))

	t.Setenv("TEMPORAL_CLI", cli)
	got, err := devenv.EnsureTemporalCLI(t.Context(), t.TempDir(), nil)
	require.NoError(t, err)
	require.Equal(t, cli, got)

	t.Setenv("TEMPORAL_CLI", cli+"-missing")
	_, err = devenv.EnsureTemporalCLI(t.Context(), t.TempDir(), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestEnsureTemporalCLIUsesCachedBinary(t *testing.T) {
	t.Setenv("TEMPORAL_CLI", "")
	root := t.TempDir()
	cli := filepath.Join(root, ".bin", "temporal-"+devenv.TemporalCLIVersion, "temporal")
	require.NoError(t, os.MkdirAll(filepath.Dir(cli), 0o755))
	require.NoError(t, os.WriteFile(cli, []byte("#!/bin/sh\n"), 0o755))

	got, err := devenv.EnsureTemporalCLI(t.Context(), root, nil)
	require.NoError(t, err)
	require.Equal(t, cli, got)
}

// TestStartTemporalWithUIAndDBFile covers what the shared test server (see testenv_test.go) does
// not: the Web UI, a SQLite file and a namespace of our own.
func TestStartTemporalWithUIAndDBFile(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the Temporal dev server; run without -short")
	}
	root, err := devenv.RepoRoot()
	require.NoError(t, err)
	cli, err := devenv.EnsureTemporalCLI(t.Context(), root, os.Stderr)
	require.NoError(t, err)

	start := time.Now()
	tmp, err := devenv.StartTemporal(t.Context(), devenv.TemporalOptions{
		CLIPath:          cli,
		DBFile:           filepath.Join(t.TempDir(), "temporal.db"),
		Namespace:        "screenflow-test",
		SearchAttributes: map[string]string{"ScreeningStatus": "Keyword"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { tmp.Stop() })
	t.Logf("temporal with UI and SQLite file: %s", time.Since(start))
	require.Equal(t, "screenflow-test", tmp.Namespace)

	c, err := client.Dial(client.Options{HostPort: tmp.Address, Namespace: tmp.Namespace})
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.OperatorService().ListSearchAttributes(t.Context(),
		&operatorservice.ListSearchAttributesRequest{Namespace: tmp.Namespace})
	require.NoError(t, err)
	require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, resp.GetCustomAttributes()["ScreeningStatus"])

	require.NotEmpty(t, tmp.UIURL)
	ui, err := http.Get(tmp.UIURL)
	require.NoError(t, err)
	ui.Body.Close()
	require.Equal(t, http.StatusOK, ui.StatusCode)

	require.NoError(t, tmp.Stop())
	require.NoError(t, tmp.Stop(), "Stop is idempotent")
}
