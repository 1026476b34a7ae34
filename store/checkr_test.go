package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func TestOAuthStatesAreSingleUseAndStoredAsHashesOnly(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	state, err := st.CreateOAuthState(ctx, tenant.ID, 10*time.Minute)
	require.NoError(t, err)
	var stored []byte
	require.NoError(t, db.Get(&stored, `SELECT state_hash FROM checkr_oauth_states`))
	require.NotContains(t, string(stored), state)

	got, err := st.ConsumeOAuthState(ctx, state)
	require.NoError(t, err)
	require.Equal(t, tenant.ID, got)
	_, err = st.ConsumeOAuthState(ctx, state)
	require.ErrorIs(t, err, store.ErrInvalidOAuthState, "a state is used once")

	_, err = st.ConsumeOAuthState(ctx, state+"x")
	require.ErrorIs(t, err, store.ErrInvalidOAuthState, "unknown state")
	_, err = st.ConsumeOAuthState(ctx, "")
	require.ErrorIs(t, err, store.ErrInvalidOAuthState, "empty state")

	other, err := st.CreateOAuthState(ctx, tenant.ID, 10*time.Minute)
	require.NoError(t, err)
	require.NotEqual(t, state, other)
}

func TestAnExpiredOAuthStateIsRefused(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	state, err := st.CreateOAuthState(ctx, tenant.ID, 10*time.Minute)
	require.NoError(t, err)

	var ttl time.Duration
	require.NoError(t, db.Get(&ttl, `SELECT (EXTRACT(EPOCH FROM expires_at - created_at) * 1e9)::bigint FROM checkr_oauth_states`))
	require.Equal(t, 10*time.Minute, ttl)

	_, err = db.Exec(`UPDATE checkr_oauth_states SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	_, err = st.ConsumeOAuthState(ctx, state)
	require.ErrorIs(t, err, store.ErrInvalidOAuthState)
}

func TestAConnectedAccountAwaitsCredentialing(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	a, err := st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	require.Equal(t, "acct-1", a.ID)
	require.Equal(t, tenant.ID, a.TenantID)
	require.Equal(t, store.CheckrAwaitingCredentialing, a.Status)
	require.Equal(t, []byte("sealed-1"), a.AccessTokenSealed)
	require.Equal(t, "fp-1", *a.AccessTokenFingerprint)
	require.Nil(t, a.CredentialedAt)

	exists, err := st.MarkCheckrCredentialed(ctx, "acct-1")
	require.NoError(t, err)
	require.True(t, exists)
	a, err = st.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	require.Equal(t, store.CheckrCredentialed, a.Status)
	require.NotNil(t, a.CredentialedAt)
	first := *a.CredentialedAt

	exists, err = st.MarkCheckrCredentialed(ctx, "acct-1")
	require.NoError(t, err)
	require.True(t, exists)
	a, err = st.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	require.Equal(t, store.CheckrCredentialed, a.Status)
	require.Equal(t, first, *a.CredentialedAt, "a redelivered event changes nothing")
}

func TestAnEarlyCredentialingIsKeptUntilTheAccountIsConnected(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	exists, err := st.MarkCheckrCredentialed(ctx, "acct-1")
	require.NoError(t, err)
	require.False(t, exists)
	_, err = st.CheckrAccount(ctx, "acct-1")
	require.ErrorIs(t, err, store.ErrNotFound)

	a, err := st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	require.Equal(t, store.CheckrCredentialed, a.Status)
	require.NotNil(t, a.CredentialedAt)
}

func TestConnectingAndCredentialingAtOnceNeverLosesTheCredentialing(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	for i := range 20 {
		id := fmt.Sprintf("acct-%d", i)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := st.ConnectCheckrAccount(ctx, tenant.ID, id, []byte("sealed"), "fp-"+id)
			assert.NoError(t, err)
		})
		wg.Go(func() {
			_, err := st.MarkCheckrCredentialed(ctx, id)
			assert.NoError(t, err)
		})
		wg.Wait()
		a, err := st.CheckrAccount(ctx, id)
		require.NoError(t, err)
		require.Equal(t, store.CheckrCredentialed, a.Status, id)
	}
}

func TestADeauthorizedAccountDropsItsTokenAndAwaitsAFreshCredentialingWhenReconnected(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	_, err = st.MarkCheckrCredentialed(ctx, "acct-1")
	require.NoError(t, err)

	deauthorized, err := st.MarkCheckrDeauthorized(ctx, "acct-1", "fp-1")
	require.NoError(t, err)
	require.True(t, deauthorized)
	a, err := st.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	require.Equal(t, store.CheckrDeauthorized, a.Status)
	require.Nil(t, a.AccessTokenSealed, "a revoked token is not kept")
	require.Equal(t, "fp-1", *a.AccessTokenFingerprint, "a redelivered token.deauthorized still finds the account")
	require.NotNil(t, a.DeauthorizedAt)
	deauthorizedAt := *a.DeauthorizedAt

	deauthorized, err = st.MarkCheckrDeauthorized(ctx, "acct-1", "fp-1")
	require.NoError(t, err)
	require.True(t, deauthorized)
	a, err = st.CheckrAccountByFingerprint(ctx, "fp-1")
	require.NoError(t, err)
	require.Equal(t, "acct-1", a.ID)
	require.Equal(t, deauthorizedAt, *a.DeauthorizedAt, "a redelivered event changes nothing")
	deauthorized, err = st.MarkCheckrDeauthorized(ctx, "acct-unknown", "fp-1")
	require.NoError(t, err)
	require.False(t, deauthorized)

	a, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-2"), "fp-2")
	require.NoError(t, err)
	require.Equal(t, store.CheckrAwaitingCredentialing, a.Status)
	require.Equal(t, []byte("sealed-2"), a.AccessTokenSealed)
	require.Equal(t, "fp-2", *a.AccessTokenFingerprint)
	require.Nil(t, a.DeauthorizedAt)
	require.Nil(t, a.CredentialedAt)
	_, err = st.CheckrAccountByFingerprint(ctx, "fp-1")
	require.ErrorIs(t, err, store.ErrNotFound, "the old token no longer routes to the account")

	_, err = st.MarkCheckrCredentialed(ctx, "acct-1")
	require.NoError(t, err)
	a, err = st.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	require.Equal(t, store.CheckrCredentialed, a.Status)
}

func TestACredentialingReceivedWhileDeauthorizedAppliesOnReconnection(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	_, err = st.MarkCheckrDeauthorized(ctx, "acct-1", "fp-1")
	require.NoError(t, err)

	// Checkr sends account.credentialed as soon as it issues the new token, which may be before
	// the token exchange is stored.
	exists, err := st.MarkCheckrCredentialed(ctx, "acct-1")
	require.NoError(t, err)
	require.True(t, exists)
	a, err := st.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	require.Equal(t, store.CheckrDeauthorized, a.Status, "no token, nothing to order with")

	a, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-2"), "fp-2")
	require.NoError(t, err)
	require.Equal(t, store.CheckrCredentialed, a.Status)
}

func TestACheckrAccountBelongsToOneTenant(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	acme, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	globex, _, err := st.CreateTenant(ctx, "globex")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, acme.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)

	_, err = st.ConnectCheckrAccount(ctx, globex.ID, "acct-1", []byte("sealed-2"), "fp-2")
	require.ErrorIs(t, err, store.ErrAccountOwnedElsewhere)
	a, err := st.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	require.Equal(t, acme.ID, a.TenantID)
	require.Equal(t, []byte("sealed-1"), a.AccessTokenSealed, "the refused connection changed nothing")

	_, err = st.TenantCheckrAccount(ctx, globex.ID, "acct-1")
	require.ErrorIs(t, err, store.ErrNotFound)
	a, err = st.TenantCheckrAccount(ctx, acme.ID, "acct-1")
	require.NoError(t, err)
	require.Equal(t, "acct-1", a.ID)
	_, err = st.TenantCheckrAccount(ctx, acme.ID, "acct-2")
	require.ErrorIs(t, err, store.ErrNotFound)

	a, err = st.ConnectCheckrAccount(ctx, acme.ID, "acct-1", []byte("sealed-3"), "fp-3")
	require.NoError(t, err, "the owner reconnects")
	require.Equal(t, []byte("sealed-3"), a.AccessTokenSealed)
}

func TestCheckrAccountByFingerprint(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-2", []byte("sealed-2"), "fp-2")
	require.NoError(t, err)

	a, err := st.CheckrAccountByFingerprint(ctx, "fp-2")
	require.NoError(t, err)
	require.Equal(t, "acct-2", a.ID)
	_, err = st.CheckrAccountByFingerprint(ctx, "fp-3")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestACheckAwaitsCredentialingAndGoesBackToPending(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	_, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	id := checks[0].ID
	status := func() store.Status {
		t.Helper()
		c, err := st.Check(ctx, id)
		require.NoError(t, err)
		return c.Status
	}

	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, true))
	require.Equal(t, store.StatusAwaitingCredentialing, status())
	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, true))
	require.Equal(t, store.StatusAwaitingCredentialing, status())
	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, false))
	require.Equal(t, store.StatusPending, status())

	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: id, Status: store.StatusInProgress}))
	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, false))
	require.Equal(t, store.StatusInProgress, status(), "only a check awaiting credentialing goes back to pending")

	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: id, Status: store.StatusCanceled}))
	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, true))
	require.Equal(t, store.StatusCanceled, status(), "a terminal check is never touched")
}

func TestChecksRecordTheirCheckrAccountAndInvitation(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
		Checks: []store.NewCheck{{Provider: "checkr", Type: "tasker_standard", CheckrAccountID: "acct-1"},
			{Provider: "checkr", Type: "tasker_standard"}}})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	require.Equal(t, "acct-1", *checks[0].CheckrAccountID)
	require.Nil(t, checks[1].CheckrAccountID, "a direct-account check")

	require.NoError(t, st.SetInvitationURL(ctx, checks[0].ID, "https://apply.checkr.com/invite/abc"))
	check, err := st.Check(ctx, checks[0].ID)
	require.NoError(t, err)
	require.Equal(t, "https://apply.checkr.com/invite/abc", *check.InvitationURL)

	_, _, err = st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
		Checks:    []store.NewCheck{{Provider: "checkr", Type: "tasker_standard", CheckrAccountID: "acct-unknown"}}})
	require.Error(t, err, "a check orders through a connected account only")
}

func TestCheckrSubscribersArePagedAndForgotten(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, "acct-2", []byte("sealed-2"), "fp-2")
	require.NoError(t, err)

	const n = 250
	for i := range n {
		acct, err := st.SubscribeCheckrAccount(ctx, "acct-1", fmt.Sprintf("screening/s/checkr/c%03d", i))
		require.NoError(t, err)
		require.Equal(t, store.CheckrAwaitingCredentialing, acct.Status, "the subscription answers the account's status")
	}
	_, err = st.SubscribeCheckrAccount(ctx, "acct-1", "screening/s/checkr/c000")
	require.NoError(t, err, "subscribing again is a no-op")
	_, err = st.SubscribeCheckrAccount(ctx, "acct-2", "screening/s/checkr/other")
	require.NoError(t, err)
	_, err = st.SubscribeCheckrAccount(ctx, "acct-unknown", "screening/s/checkr/c000")
	require.ErrorIs(t, err, store.ErrNotFound)

	var all []string
	after := ""
	for {
		page, err := st.CheckrSubscribers(ctx, "acct-1", after, 100)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 100)
		all = append(all, page...)
		after = page[len(page)-1]
	}
	require.Len(t, all, n, "every subscriber once, and only the account's")
	require.IsIncreasing(t, all)

	require.NoError(t, st.UnsubscribeCheckrAccount(ctx, "acct-1", []string{"screening/s/checkr/c000", "screening/s/checkr/c249", "nope"}))
	page, err := st.CheckrSubscribers(ctx, "acct-1", "", n)
	require.NoError(t, err)
	require.Len(t, page, n-2)
	require.Equal(t, "screening/s/checkr/c001", page[0])
	other, err := st.CheckrSubscribers(ctx, "acct-2", "", n)
	require.NoError(t, err)
	require.Equal(t, []string{"screening/s/checkr/other"}, other)
	var rows int
	require.NoError(t, st.DB().Get(&rows, `SELECT count(*) FROM checkr_subscribers WHERE account_id = 'acct-unknown'`))
	require.Zero(t, rows, "nothing is kept for an account no tenant connected")
}

func TestACheckRequiresActionAndGoesBackInProgress(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	_, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	id := checks[0].ID
	status := func() store.Status {
		t.Helper()
		c, err := st.Check(ctx, id)
		require.NoError(t, err)
		return c.Status
	}

	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: id, Status: store.StatusInProgress}))
	require.NoError(t, st.SetCheckActionRequired(ctx, id, true))
	require.Equal(t, store.StatusActionRequired, status())
	require.NoError(t, st.SetCheckActionRequired(ctx, id, true))
	require.Equal(t, store.StatusActionRequired, status())
	require.NoError(t, st.SetCheckActionRequired(ctx, id, false))
	require.Equal(t, store.StatusInProgress, status())
	require.NoError(t, st.SetCheckActionRequired(ctx, id, false))
	require.Equal(t, store.StatusInProgress, status())

	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, true))
	require.NoError(t, st.SetCheckActionRequired(ctx, id, true))
	require.Equal(t, store.StatusAwaitingCredentialing, status(), "a check that cannot order yet waits on its account, not the candidate")
	require.NoError(t, st.SetCheckAwaitingCredentialing(ctx, id, false))

	require.NoError(t, st.SetCheckActionRequired(ctx, id, true))
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: id, Status: store.StatusCompleted}))
	require.NoError(t, st.SetCheckActionRequired(ctx, id, false))
	require.NoError(t, st.SetCheckActionRequired(ctx, id, true))
	require.Equal(t, store.StatusCompleted, status(), "a terminal check is never touched")
}

func TestCheckDocumentKinds(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	_, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	kinds, err := st.CheckDocumentKinds(ctx, checks[0].ID)
	require.NoError(t, err)
	require.Empty(t, kinds)
	for _, kind := range []string{"checkr_pdf_report_d1", "checkr_pdf_report_d2", "checkr_pdf_report_d1"} {
		_, err := st.SaveDocument(ctx, checks[0].ID, kind, "application/pdf", []byte("%PDF-"+kind))
		require.NoError(t, err)
	}
	kinds, err = st.CheckDocumentKinds(ctx, checks[0].ID)
	require.NoError(t, err)
	require.Equal(t, []string{"checkr_pdf_report_d1", "checkr_pdf_report_d2"}, kinds)
}

// An account one tenant disconnected can be connected by another: it used to stay bound to the
// first tenant forever.
func TestADisconnectedCheckrAccountCanBeConnectedByAnotherTenant(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	acme, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	globex, _, err := st.CreateTenant(ctx, "globex")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, acme.ID, "acct-1", []byte("sealed-1"), "fp-1")
	require.NoError(t, err)
	revoked, err := st.MarkCheckrDeauthorized(ctx, "acct-1", "fp-1")
	require.NoError(t, err)
	require.True(t, revoked)

	a, err := st.ConnectCheckrAccount(ctx, globex.ID, "acct-1", []byte("sealed-2"), "fp-2")
	require.NoError(t, err)
	require.Equal(t, globex.ID, a.TenantID)
	require.Equal(t, store.CheckrAwaitingCredentialing, a.Status, "credentialing starts afresh")
	_, err = st.TenantCheckrAccount(ctx, acme.ID, "acct-1")
	require.ErrorIs(t, err, store.ErrNotFound, "the tenant that disconnected it no longer sees it")

	_, err = st.ConnectCheckrAccount(ctx, acme.ID, "acct-1", []byte("sealed-3"), "fp-3")
	require.ErrorIs(t, err, store.ErrAccountOwnedElsewhere, "while connected, it is the new tenant's")
}
