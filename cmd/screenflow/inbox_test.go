package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

func TestInboxCommands(t *testing.T) {
	db, dbURL := testenv.NewDBURL(t)
	key := vault.NewKey()
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("SCREENFLOW_ENCRYPTION_KEY", key)
	ctx := context.Background()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"migrate"}, &out))
	parsed, err := vault.ParseKey(key)
	require.NoError(t, err)
	v, err := vault.New(parsed)
	require.NoError(t, err)
	st := store.NewSealed(db, v)

	body := `{"id":"evt_cli","type":"client.updated","payload":{"id":"cli_7","email":"grace.hopper@example.com"}}`
	id, _, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "complycube", EventID: "evt_cli",
		EventType: "client.updated", Subject: "client:cli_7", Headers: map[string]string{"Complycube-Signature": "v1=feed"},
		Body: []byte(body)})
	require.NoError(t, err)
	claimed, err := st.ClaimEvents(ctx, []int64{id}, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	_, err = st.RecordOutcomes(ctx, []store.Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: store.InboxUnroutable,
		Attempted: true, Error: `no route for subject "client:cli_7" after 1h0m0s`}})
	require.NoError(t, err)
	idArg := strconv.FormatInt(id, 10)

	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "list", "--status", "unroutable", "--provider", "complycube"}, &out))
	require.Regexp(t, `(?m)^ID\s+PROVIDER\s+EVENT_TYPE\s+RECEIVED_AT\s+STATUS\s+ATTEMPTS\s+LAST_ERROR\s+SUBJECT$`, out.String())
	require.Regexp(t, `(?m)^`+idArg+`\s+complycube\s+client.updated\s+\S+\s+unroutable\s+1\s+no route for subject "client:cli_7" after 1h0m0s\s+client:cli_7$`, out.String())
	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "list", "--status", "discarded"}, &out))
	require.Equal(t, "no discarded events\n", out.String())

	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "show", idArg}, &out))
	var shown map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &shown))
	require.Equal(t, map[string]any{"id": "evt_cli", "type": "client.updated",
		"payload": map[string]any{"id": "cli_7", "email": "[masked]"}}, shown["body"])
	require.Equal(t, map[string]any{"Complycube-Signature": "[secret]"}, shown["headers"])
	require.NotContains(t, out.String(), "grace.hopper")

	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "replay", idArg}, &out))
	require.Contains(t, out.String(), "event "+idArg+" (unroutable): replayed\n1 event(s) replayed")
	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "replay", idArg}, &out))
	require.Contains(t, out.String(), "event "+idArg+" (pending): left alone: already pending")
	require.Contains(t, out.String(), "0 event(s) replayed")
	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "replay", "--status", "unroutable"}, &out))
	require.Equal(t, "0 event(s) replayed: pending again, the relay of `screenflow serve` delivers them within a second\n", out.String())

	for _, refused := range [][]string{
		{"inbox"},
		{"inbox", "list"},
		{"inbox", "list", "--status", "unroutable", "extra"},
		{"inbox", "show"},
		{"inbox", "replay"},
		{"inbox", "replay", idArg, "--status", "unroutable"},
		{"inbox", "replay", "--status", "unroutable", idArg},
	} {
		require.ErrorContains(t, run(ctx, refused, &out), "usage: screenflow inbox", refused)
	}
	require.ErrorContains(t, run(ctx, []string{"inbox", "show", "999999"}, &out), "no inbox event 999999")
	require.ErrorContains(t, run(ctx, []string{"inbox", "replay", "--status", "pending"}, &out), "only unroutable, discarded or unparsed")
}

func TestOperatorAPIKeyThatCanBeGuessedIsRefused(t *testing.T) {
	env := func(key string) registry.Env {
		return func(n string) string { return map[string]string{"OPERATOR_API_KEY": key}[n] }
	}
	short := "0123456789abcdef0123456789abcde"
	_, err := loadConfig(env(short))
	require.ErrorContains(t, err, "OPERATOR_API_KEY is shorter than 32 characters")
	require.NotContains(t, err.Error(), short, "the key is never in an error")

	cfg, err := loadConfig(env(short + "f"))
	require.NoError(t, err)
	require.Equal(t, short+"f", cfg.OperatorAPIKey)
	cfg, err = loadConfig(env(""))
	require.NoError(t, err)
	require.Empty(t, cfg.OperatorAPIKey, "unset, the operator API is off")
}
