package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

func TestCandidateFindPrintsTheScreeningsAndTheTemporalQueryOfAReference(t *testing.T) {
	_, dbURL := testenv.NewDBURL(t)
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("SCREENFLOW_ENCRYPTION_KEY", vault.NewKey())
	ctx := context.Background()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"migrate"}, &out))
	cfg, err := loadConfig(osEnv)
	require.NoError(t, err)
	db, st, _, err := cfg.openSealedStore(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	other, _, err := st.CreateTenant(ctx, "other")
	require.NoError(t, err)
	screen := func(tenantID, reference string) store.Screening {
		scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenantID,
			Candidate: store.Candidate{Reference: reference, FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DOB: "1990-12-10"},
			Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
		require.NoError(t, err)
		return scr
	}
	first, second := screen(tenant.ID, "ada@example.com"), screen(tenant.ID, "ada@example.com")
	screen(tenant.ID, "emp-7")
	elsewhere := screen(other.ID, "ada@example.com")

	out.Reset()
	require.NoError(t, run(ctx, []string{"candidate", "find", tenant.ID, "ada@example.com"}, &out))
	printed := out.String()
	for _, scr := range []store.Screening{first, second} {
		require.Contains(t, printed, scr.ID)
	}
	require.NotContains(t, printed, elsewhere.ID, "another tenant's candidate is not found")
	require.Contains(t, printed, "CandidateId IN ('"+first.CandidateID+"', '"+second.CandidateID+"')")
	require.NotContains(t, printed, "ada@example.com", "the reference is not printed back")

	require.ErrorContains(t, run(ctx, []string{"candidate", "find", tenant.ID, "nobody"}, &out), "no candidate with this reference")
	require.ErrorContains(t, run(ctx, []string{"candidate", "find", "acme", "ada@example.com"}, &out), `"acme" is not a tenant id`)
	require.ErrorContains(t, run(ctx, []string{"candidate", "find", uuid.NewString()}, &out), candidateFindUsage)
}
