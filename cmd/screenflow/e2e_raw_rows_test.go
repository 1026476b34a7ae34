package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// rawRowsCandidate is a candidate whose every value is distinctive enough to be looked for in the
// whole database.
var rawRowsCandidate = map[string]string{"reference": "emp-rawrows-7", "first_name": "Zenobia",
	"last_name": "Quillfeather", "email": "zenobia.quillfeather@example.com", "dob": "1987-03-14",
	"address_line1": "77 Cipher Lane", "country": "GBR"}

// The candidate's date of birth in the other shapes a provider may write it.
var rawRowsDOBShapes = []string{"1987-03-14", "14-03-1987", "03-14-1987", "03/14/1987", "14/03/1987", "19870314"}

// rawDatabase is every row of every table of the public schema, as Postgres renders it in text
// (bytea in hex), one row a line, and the tables it read.
func rawDatabase(t *testing.T, db *sqlx.DB) ([]byte, []string) {
	t.Helper()
	var tables []string
	require.NoError(t, db.Select(&tables, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`))
	var raw []byte
	for _, table := range tables {
		var rows [][]byte
		require.NoError(t, db.Select(&rows, `SELECT convert_to(t::text, 'UTF8') FROM `+pq.QuoteIdentifier(table)+` t`))
		for _, r := range rows {
			raw = append(append(raw, r...), '\n')
		}
	}
	return raw, tables
}

// The done-when of issue 10: after real screenings through ComplyCube, Authenticate and Checkr, and
// Checkr's token.deauthorized, no table holds the candidate's data, a report or an access token in
// the clear.
func TestEndToEndTheDatabaseHoldsNoCandidateDataReportOrTokenInTheClear(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: 300 * time.Millisecond, timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	ctx := context.Background()
	account, _ := s.connectCheckr(t, nil)
	s.terminateAtCleanup(t, workflows.CheckrAccountWorkflowID(account))
	require.NoError(t, s.checkr.Credential(account))
	require.Eventually(t, func() bool {
		acct, err := s.db.CheckrAccount(ctx, account)
		return err == nil && acct.Status == store.CheckrCredentialed
	}, 30*time.Second, 100*time.Millisecond)

	status, raw := s.request(t, http.MethodPost, "/v1/screenings", map[string]any{
		"candidate": rawRowsCandidate,
		"checks": []map[string]any{
			{"provider": "complycube", "type": "standard_screening_check"},
			{"provider": "authenticate", "type": "criminal"},
			{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": account},
		},
	})
	require.Equal(t, http.StatusCreated, status, string(raw))
	var created screeningJSON
	require.NoError(t, json.Unmarshal(raw, &created))
	s.terminateAtCleanup(t, workflows.ScreeningWorkflowID(created.ID))
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)
	require.Len(t, done.Documents, 3)
	var reports [][]byte
	for _, doc := range done.Documents {
		status, pdf := s.request(t, http.MethodGet, doc.URL, nil)
		require.Equal(t, http.StatusOK, status)
		require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
		reports = append(reports, pdf)
	}

	// The access token the account was connected with, which token.deauthorized names.
	acct, err := s.db.CheckrAccount(ctx, account)
	require.NoError(t, err)
	accessToken, err := sealedKeyring(t, s.cfg.EncryptionKey).Open(acct.AccessTokenSealed, []byte(account))
	require.NoError(t, err)
	require.NotEmpty(t, accessToken)
	require.NoError(t, s.checkr.RevokeAccess(account))
	s.checkrDelivered(t, checkr.EventTokenDeauthorized)
	require.Eventually(t, func() bool {
		acct, err := s.db.CheckrAccount(ctx, account)
		return err == nil && acct.Status == store.CheckrDeauthorized
	}, 30*time.Second, 100*time.Millisecond, "the stored event still finds its account")

	database, tables := rawDatabase(t, s.db.DB())
	for _, table := range []string{"candidates", "documents", "webhook_events", "checkr_accounts", "provider_calls",
		"timeline_entries"} {
		require.Contains(t, tables, table)
	}
	require.Contains(t, string(database), created.ID, "the dump holds the screening")
	require.Contains(t, string(database), checkr.TokenFingerprint(string(accessToken)),
		"the dump holds the token's fingerprint, which routes token.deauthorized")

	for _, field := range []string{"reference", "first_name", "last_name", "email", "address_line1"} {
		requireNotInTheClear(t, database, []byte(rawRowsCandidate[field]), field)
	}
	for _, dob := range rawRowsDOBShapes {
		requireNotInTheClear(t, database, []byte(dob), "the date of birth "+dob)
	}
	requireNotInTheClear(t, database, []byte("%PDF-"), "a PDF header")
	for _, pdf := range reports {
		require.Greater(t, len(pdf), 128)
		for _, part := range [][]byte{pdf[:32], pdf[len(pdf)/2 : len(pdf)/2+32], pdf[len(pdf)-32:]} {
			requireNotInTheClear(t, database, part, "a report's bytes")
		}
	}
	requireNotInTheClear(t, database, accessToken, "the Checkr access token")
}
