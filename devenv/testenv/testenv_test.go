package testenv_test

import (
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/devenv/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestNewDB(t *testing.T) {
	start := time.Now()
	a := testenv.NewDB(t)
	t.Logf("first database (server start, migrations, copy): %s", time.Since(start))
	start = time.Now()
	b, bURL := testenv.NewDBURL(t)
	t.Logf("second database (copy): %s", time.Since(start))
	ctx := t.Context()

	for _, db := range []*sqlx.DB{a, b} {
		var table *string
		require.NoError(t, db.GetContext(ctx, &table, "SELECT to_regclass('tenants')::text"))
		require.NotNil(t, table, "migrated table tenants")
	}

	_, err := a.ExecContext(ctx, "CREATE TABLE only_in_a (id int)")
	require.NoError(t, err)
	var table *string
	require.NoError(t, b.GetContext(ctx, &table, "SELECT to_regclass('only_in_a')::text"))
	require.Nil(t, table, "databases are independent")

	// The URL reaches the same database as the connection.
	viaURL, err := sqlx.Open("postgres", bURL)
	require.NoError(t, err)
	defer viaURL.Close()
	var want, got string
	require.NoError(t, b.GetContext(ctx, &want, "SELECT current_database()"))
	require.NoError(t, viaURL.GetContext(ctx, &got, "SELECT current_database()"))
	require.Equal(t, want, got)
}

func TestNewDBParallel(t *testing.T) {
	for range 4 {
		t.Run("db", func(t *testing.T) {
			t.Parallel()
			db := testenv.NewDB(t)
			_, err := db.ExecContext(t.Context(),
				"INSERT INTO tenants (id, name, api_key_hash) VALUES (gen_random_uuid(), 'acme', '\\x01')")
			require.NoError(t, err, "each test has its own tenants table, so the unique key cannot clash")
		})
	}
}

func TestTemporal(t *testing.T) {
	start := time.Now()
	c := testenv.NewTemporalClient(t)
	t.Logf("temporal (start or reuse, dial): %s", time.Since(start))

	_, err := c.CheckHealth(t.Context(), &client.CheckHealthRequest{})
	require.NoError(t, err)
	tmp := testenv.Temporal(t)
	resp, err := c.OperatorService().ListSearchAttributes(t.Context(),
		&operatorservice.ListSearchAttributesRequest{Namespace: tmp.Namespace})
	require.NoError(t, err)
	attrs := resp.GetCustomAttributes()
	require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, attrs["ScreeningStatus"])
	require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, attrs["TenantId"])
	require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD_LIST, attrs["Provider"])
	require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD_LIST, attrs["CandidateId"])
	require.Empty(t, tmp.UIURL, "headless")
}
