package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// stackProcesses are a stack's serve and worker, run in this process as the binary runs them.
type stackProcesses struct {
	log                   *slog.Logger
	cancel                context.CancelFunc
	serveDone, workerDone chan error
}

func (p *stackProcesses) start(cfg config, ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.serveDone, p.workerDone = make(chan error, 1), make(chan error, 1)
	go func() { p.serveDone <- serve(ctx, cfg, p.log, ln) }()
	go func() { p.workerDone <- runWorker(ctx, cfg, p.log) }()
}

func (p *stackProcesses) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	require.NoError(t, <-p.serveDone)
	require.NoError(t, <-p.workerDone)
}

// restart stops serve and worker and starts them again on the same address with some settings
// changed ("" unsets one), as a deploy of new settings does.
func (s *stack) restart(t *testing.T, settings map[string]string) {
	t.Helper()
	s.procs.stop(t)
	previous := s.cfg.env
	cfg, err := loadConfig(func(name string) string {
		if v, ok := settings[name]; ok {
			return v
		}
		return previous(name)
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", strings.TrimPrefix(s.apiURL, "http://"))
	require.NoError(t, err)
	s.cfg = cfg
	s.procs.start(cfg, ln)
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.apiURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "serve answers again")
}

// sealedKeyring is a keyring as serve loads it, for reading the database the way it does.
func sealedKeyring(t *testing.T, primary string, older ...string) *vault.Vault {
	t.Helper()
	v, err := config{EncryptionKey: primary, EncryptionOldKeys: strings.Join(older, ",")}.vault()
	require.NoError(t, err)
	return v
}

// rawCandidateAndDocumentRows is everything the candidates and documents tables hold: each row as
// Postgres renders it in text (bytea in hex), and the sealed bytea columns as they are.
func rawCandidateAndDocumentRows(t *testing.T, db *sqlx.DB) []byte {
	t.Helper()
	var raw []byte
	for _, query := range []string{
		`SELECT convert_to(c::text, 'UTF8') FROM candidates c`,
		`SELECT pii_sealed FROM candidates WHERE pii_sealed IS NOT NULL`,
		`SELECT convert_to(d::text, 'UTF8') FROM documents d`,
		`SELECT content FROM documents`,
	} {
		var rows [][]byte
		require.NoError(t, db.Select(&rows, query))
		require.NotEmpty(t, rows, query)
		for _, r := range rows {
			raw = append(append(raw, r...), 0)
		}
	}
	return raw
}

// requireNotInTheClear fails when raw holds needle as it is or hex-encoded, as bytea is rendered.
func requireNotInTheClear(t *testing.T, raw, needle []byte, what string) {
	t.Helper()
	require.False(t, bytes.Contains(raw, needle), "the raw rows hold %s in the clear", what)
	require.False(t, bytes.Contains(raw, []byte(hex.EncodeToString(needle))), "the raw rows hold %s in hex", what)
}

func TestEndToEndCandidateDataAndReportsAreSealedAtRest(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})

	created := s.createScreening(t,
		map[string]any{"provider": "complycube", "type": "standard_screening_check"},
		map[string]any{"provider": "authenticate", "type": "criminal"})
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)
	require.Len(t, done.Documents, 2)
	var reports [][]byte
	for _, doc := range done.Documents {
		status, pdf := s.request(t, http.MethodGet, doc.URL, nil)
		require.Equal(t, http.StatusOK, status)
		require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
		require.Equal(t, doc.Size, int64(len(pdf)))
		reports = append(reports, pdf)
	}
	require.Equal(t, "emp-42", s.candidateReference(t, created.ID), "the HR API reads the sealed reference")

	raw := rawCandidateAndDocumentRows(t, s.db.DB())
	for _, pii := range []string{"emp-42", candidateLastName, candidateEmail, candidateDOB, "Analytical Row"} {
		requireNotInTheClear(t, raw, []byte(pii), pii)
	}
	for i, pdf := range reports {
		require.Greater(t, len(pdf), 128)
		for _, part := range [][]byte{pdf[:32], pdf[len(pdf)/2 : len(pdf)/2+32], pdf[len(pdf)-32:]} {
			requireNotInTheClear(t, raw, part, fmt.Sprintf("report %d", i))
		}
	}
}

func (s *stack) candidateReference(t *testing.T, screeningID string) string {
	t.Helper()
	status, raw := s.request(t, http.MethodGet, "/v1/screenings/"+screeningID, nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var scr struct {
		Candidate struct {
			Reference string `json:"reference"`
		} `json:"candidate"`
	}
	require.NoError(t, json.Unmarshal(raw, &scr))
	return scr.Candidate.Reference
}

// postScreening creates a ComplyCube screening without failing the test, for a goroutine.
func (s *stack) postScreening(ctx context.Context) (string, error) {
	body := `{"candidate": {"reference": "emp-42", "first_name": "Ada", "last_name": "` + candidateLastName +
		`", "email": "` + candidateEmail + `", "dob": "` + candidateDOB + `", "country": "GBR"},
		"checks": [{"provider": "complycube", "type": "standard_screening_check"}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/screenings", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/screenings: %d %s", resp.StatusCode, raw)
	}
	var scr screeningJSON
	if err := json.Unmarshal(raw, &scr); err != nil {
		return "", err
	}
	return scr.ID, nil
}

// requireEveryScreeningReadable reads each screening, its candidate's reference and each report
// through the HR API, as an HR platform would, and compares the reports with what the fake served.
func (s *stack) requireEveryScreeningReadable(t *testing.T, ids []string) {
	t.Helper()
	for _, id := range ids {
		scr := s.screening(t, id)
		require.Equal(t, "emp-42", s.candidateReference(t, id))
		s.assertReportDownloads(t, scr)
	}
}

func TestEndToEndKeyRotationUnderLoad(t *testing.T) {
	tmp := testenv.Temporal(t)
	oldKey, newKey := vault.NewKey(), vault.NewKey()
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 200 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour},
		env:    map[string]string{"SCREENFLOW_ENCRYPTION_KEY": oldKey}})
	t.Cleanup(func() {
		// A screening left running would be picked up by the next test's worker.
		for _, id := range s.screeningsOfTenant(t) {
			_ = s.temporal.TerminateWorkflow(context.Background(), workflows.ScreeningWorkflowID(id), "", "test over")
		}
	})
	var ids []string
	for range 6 {
		ids = append(ids, s.createScreening(t).ID)
	}
	for _, id := range ids {
		s.waitForStatus(t, id, store.StatusCompleted, time.Minute)
	}

	// Deploy the new key as the primary, the old one still loaded to open what it sealed.
	s.restart(t, map[string]string{"SCREENFLOW_ENCRYPTION_KEY": newKey, "SCREENFLOW_ENCRYPTION_OLD_KEYS": oldKey})
	s.requireEveryScreeningReadable(t, ids)

	// Screenings keep coming in while the rotation runs.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var mu sync.Mutex
	var underLoad []string
	var loadErr error
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for loadCtx.Err() == nil {
			id, err := s.postScreening(loadCtx)
			mu.Lock()
			if err != nil {
				if loadCtx.Err() == nil {
					loadErr = err
				}
				mu.Unlock()
				return
			}
			underLoad = append(underLoad, id)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	loaded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(underLoad)
	}
	require.Eventually(t, func() bool { return loaded() >= 3 }, 30*time.Second, 10*time.Millisecond)

	t.Setenv("SCREENFLOW_ENCRYPTION_KEY", newKey)
	t.Setenv("SCREENFLOW_ENCRYPTION_OLD_KEYS", oldKey)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"keys", "rotate", "--batch", "2"}, &out))
	atRotation := loaded()
	require.Eventually(t, func() bool { return loaded() >= atRotation+3 }, 30*time.Second, 10*time.Millisecond,
		"screenings are still created after the rotation")
	stopLoad()
	<-loadDone
	require.NoError(t, loadErr)
	t.Log(out.String())
	require.Contains(t, out.String(), "sealing under key "+vault.KeyID(mustParseKey(t, newKey)))
	require.Contains(t, out.String(), "pass 1: re-sealed ")
	require.Contains(t, out.String(), "SCREENFLOW_ENCRYPTION_OLD_KEYS can be emptied")
	var firstPass struct{ candidates, documents int }
	_, err := fmt.Sscanf(out.String()[strings.Index(out.String(), "pass 1:"):], "pass 1: re-sealed %d candidates, %d documents",
		&firstPass.candidates, &firstPass.documents)
	require.NoError(t, err)
	require.GreaterOrEqual(t, firstPass.candidates, len(ids), "every screening from before the new key was re-sealed")
	require.GreaterOrEqual(t, firstPass.documents, len(ids))

	all := append(slices.Clone(ids), underLoad...)
	for _, id := range all {
		s.waitForStatus(t, id, store.StatusCompleted, 2*time.Minute)
	}
	s.requireEveryScreeningReadable(t, all)

	// The old key is removed: everything still opens with the new key alone.
	s.restart(t, map[string]string{"SCREENFLOW_ENCRYPTION_KEY": newKey, "SCREENFLOW_ENCRYPTION_OLD_KEYS": ""})
	s.requireEveryScreeningReadable(t, all)
	newOnly := store.NewSealed(s.db.DB(), sealedKeyring(t, newKey))
	left, err := newOnly.NotUnderPrimaryKey(context.Background())
	require.NoError(t, err)
	require.Zero(t, left.Total())
	tenant, err := s.db.TenantByAPIKey(context.Background(), s.apiKey)
	require.NoError(t, err)
	byReference, err := newOnly.ScreeningsByReference(context.Background(), tenant.ID, "emp-42")
	require.NoError(t, err)
	require.ElementsMatch(t, all, screeningIDsOf(byReference), "the reference finds every screening after rotation")

	oldOnly := store.NewSealed(s.db.DB(), sealedKeyring(t, oldKey))
	scr, err := s.db.Screening(context.Background(), tenant.ID, ids[0])
	require.NoError(t, err)
	checks, err := s.db.ScreeningChecks(context.Background(), scr.ID)
	require.NoError(t, err)
	_, err = oldOnly.CandidateForCheck(context.Background(), checks[0].ID)
	require.ErrorIs(t, err, vault.ErrCannotOpen, "nothing is sealed under the old key any more")

	t.Setenv("SCREENFLOW_ENCRYPTION_OLD_KEYS", "")
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"keys", "rotate"}, &out))
	require.Contains(t, out.String(), "pass 1: re-sealed 0 candidates, 0 documents, 0 Checkr tokens", "a second run has nothing to do")
}

func (s *stack) screeningsOfTenant(t *testing.T) []string {
	t.Helper()
	var ids []string
	require.NoError(t, s.db.DB().Select(&ids, `SELECT id FROM screenings`))
	return ids
}

func screeningIDsOf(screenings []store.Screening) []string {
	var ids []string
	for _, s := range screenings {
		ids = append(ids, s.ID)
	}
	return ids
}

func mustParseKey(t *testing.T, s string) []byte {
	t.Helper()
	key, err := vault.ParseKey(s)
	require.NoError(t, err)
	return key
}

func TestEncryptionKeySettingsAreRequiredAndErrorsNameThemWithoutTheKeys(t *testing.T) {
	_, err := config{}.vault()
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_KEY is not set")

	secret := strings.Repeat("ab", 31)
	_, err = config{EncryptionKey: secret}.vault()
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_KEY")
	require.NotContains(t, err.Error(), secret)

	primary, old := vault.NewKey(), vault.NewKey()
	_, err = config{EncryptionKey: primary, EncryptionOldKeys: old + "," + secret}.vault()
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_OLD_KEYS, key 2")
	require.NotContains(t, err.Error(), secret)
	require.NotContains(t, err.Error(), old)

	v, err := config{EncryptionKey: primary, EncryptionOldKeys: " " + old + " ,"}.vault()
	require.NoError(t, err)
	require.Equal(t, []string{vault.KeyID(mustParseKey(t, primary)), vault.KeyID(mustParseKey(t, old))}, v.KeyIDs())

	cfg, err := loadConfig(func(name string) string {
		return map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/none"}[name]
	})
	require.NoError(t, err, "only the commands that seal need the key")
	err = runWorker(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_KEY is not set")
	err = serve(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_KEY is not set")
	err = runKeys(context.Background(), cfg, []string{"rotate"}, io.Discard)
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_KEY is not set")
}

func TestKeysCommandUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"list"}, {"rotate", "--batch", "0"}, {"rotate", "extra"}, {"rotate", "--nope"}} {
		err := runKeys(context.Background(), config{}, args, io.Discard)
		require.ErrorContains(t, err, "usage: screenflow keys rotate", "%v", args)
	}
}
