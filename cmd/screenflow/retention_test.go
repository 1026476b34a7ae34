package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func TestParseRetention(t *testing.T) {
	for value, want := range map[string]time.Duration{
		"default": 0,
		"720h":    720 * time.Hour,
		"1s":      time.Second,
		"90m30s":  90*time.Minute + 30*time.Second,
	} {
		got, err := parseRetention(value)
		require.NoError(t, err, value)
		require.Equal(t, want, got, value)
	}
	for value, says := range map[string]string{
		"30d":     "is not a duration such as 720h",
		"":        "is not a duration such as 720h",
		"Default": "is not a duration such as 720h",
		"0s":      "is not a positive duration",
		"-1h":     "is not a positive duration",
		"1ns":     "whole microseconds",
	} {
		_, err := parseRetention(value)
		require.ErrorContains(t, err, says, value)
	}
}

func TestTenantSetRetention(t *testing.T) {
	db, dbURL := testenv.NewDBURL(t)
	t.Setenv("DATABASE_URL", dbURL)
	ctx := context.Background()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"migrate"}, &out))
	st := store.New(db)
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	out.Reset()
	require.NoError(t, run(ctx, []string{"tenant", "set-retention", tenant.ID, "2160h"}, &out))
	require.Contains(t, out.String(), "kept for 2160h0m0s after their last screening finished")
	retention, err := st.ScreeningRetention(ctx, tenant.ID)
	require.NoError(t, err)
	require.Equal(t, 2160*time.Hour, retention)

	out.Reset()
	require.NoError(t, run(ctx, []string{"tenant", "set-retention", tenant.ID, "default"}, &out))
	require.Contains(t, out.String(), "SCREENING_RETENTION (8760h0m0s here;")
	retention, err = st.ScreeningRetention(ctx, tenant.ID)
	require.NoError(t, err)
	require.Zero(t, retention)

	for _, refused := range []struct {
		args []string
		says string
	}{
		{[]string{"tenant", "set-retention", tenant.ID}, "usage: screenflow tenant set-retention"},
		{[]string{"tenant", "set-retention", tenant.ID, "720h", "extra"}, "usage: screenflow tenant set-retention"},
		{[]string{"tenant", "set-retention", tenant.ID, "a year"}, `"a year" is not a duration`},
		{[]string{"tenant", "set-retention", tenant.ID, "-720h"}, "is not a positive duration"},
		{[]string{"tenant", "set-retention", uuid.NewString(), "720h"}, "no tenant has the id"},
		{[]string{"tenant", "set-retention", "acme", "720h"}, `no tenant has the id "acme"`},
	} {
		require.ErrorContains(t, run(ctx, refused.args, &out), refused.says, refused.args)
	}
	retention, err = st.ScreeningRetention(ctx, tenant.ID)
	require.NoError(t, err)
	require.Zero(t, retention, "a refused command changes nothing")
}
