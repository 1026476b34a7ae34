package activities_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/providers/complycube"
)

func TestDeleteClientDeletesTheChecksClientOnceAndCountsAGoneOneAsDeleted(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	clientID, _ := h.createClientAndCheck(t)

	require.NoError(t, h.act.DeleteClient(ctx, activities.ProviderCopyInput{CheckID: h.checkID}))
	require.Equal(t, []string{clientID}, h.fake.DeletedClients())
	require.NoError(t, h.act.DeleteClient(ctx, activities.ProviderCopyInput{CheckID: h.checkID}),
		"a retry finds the client gone (404), which is what it asked for")
	require.Equal(t, []string{clientID}, h.fake.DeletedClients())
}

func TestDeleteClientFindsAClientWhoseIDWasNeverStored(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	// The client was created, but the answer with its id was lost: only its externalId names it.
	lost, err := h.act.Client.CreateClient(ctx, complycube.CreateClientRequest{
		Type: "person", Email: "ada@example.com", ExternalID: h.checkID,
		PersonDetails: &complycube.PersonDetails{FirstName: "Ada", LastName: "Lovelace"}})
	require.NoError(t, err)

	require.NoError(t, h.act.DeleteClient(ctx, activities.ProviderCopyInput{CheckID: h.checkID}))
	require.Equal(t, []string{lost.ID}, h.fake.DeletedClients())
}

func TestDeleteClientOfACheckThatMadeNoClientDeletesNothing(t *testing.T) {
	h := newComplyCubeHarness(t)
	require.NoError(t, h.act.DeleteClient(context.Background(), activities.ProviderCopyInput{CheckID: h.checkID}))
	require.Empty(t, h.fake.DeletedClients())
}

func TestDeleteClientRetriesWhatComplyCubeFailsAndGivesUpOnWhatItRefuses(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	h.createClientAndCheck(t)

	h.fake.FailAPI(1, http.StatusServiceUnavailable)
	err := h.act.DeleteClient(ctx, activities.ProviderCopyInput{CheckID: h.checkID})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, activities.ErrTypeProviderUnavailable, appErr.Type())
	require.False(t, appErr.NonRetryable())

	h.fake.FailAPI(1, http.StatusForbidden)
	err = h.act.DeleteClient(ctx, activities.ProviderCopyInput{CheckID: h.checkID})
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, activities.ErrTypeProviderRejected, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Empty(t, h.fake.DeletedClients())
}

const deletionContact = "privacy@hr.example"

func requireAppError(t *testing.T, err error, errType string, nonRetryable bool) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, errType, appErr.Type())
	require.Equal(t, nonRetryable, appErr.NonRetryable())
}

func TestRemoveCandidatePIIRemovesTheChecksCandidateWithTheAccountsTokenOnce(t *testing.T) {
	h := newCheckrHarness(t)
	h.act.DeletionContact = deletionContact
	ctx := context.Background()
	candidateID, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)

	require.NoError(t, h.act.RemoveCandidatePII(ctx, activities.ProviderCopyInput{CheckID: h.checkID}))
	want := []checkrfake.PIIRemoval{{CandidateID: candidateID, AccountID: h.account, ContactEmail: deletionContact}}
	require.Equal(t, want, h.fake.PIIRemovals(), "removed on the integrated account the check ran on")
	require.NoError(t, h.act.RemoveCandidatePII(ctx, activities.ProviderCopyInput{CheckID: h.checkID}),
		"a retry finds the PII removed (Checkr answers 400), which is what it asked for")
	require.Equal(t, want, h.fake.PIIRemovals())
}

func TestRemoveCandidatePIIFindsACandidateWhoseIDWasNeverStored(t *testing.T) {
	h := newCheckrHarness(t)
	h.act.DeletionContact = deletionContact
	ctx := context.Background()
	// The candidate was created, but the answer with its id was lost: only its custom_id names it.
	code, _ := h.fake.Authorize(h.account)
	token, err := h.act.Client.ExchangeToken(ctx, "client", "secret", code)
	require.NoError(t, err)
	lost, err := h.act.Client.WithKey(token.AccessToken).CreateCandidate(ctx,
		checkr.CandidateRequest{Email: "ada@example.com", CustomID: h.checkID})
	require.NoError(t, err)

	require.NoError(t, h.act.RemoveCandidatePII(ctx, activities.ProviderCopyInput{CheckID: h.checkID}))
	require.Equal(t, []checkrfake.PIIRemoval{{CandidateID: lost.ID, AccountID: h.account, ContactEmail: deletionContact}},
		h.fake.PIIRemovals())
}

func TestRemoveCandidatePIIOfACheckThatMadeNoCandidateRemovesNothing(t *testing.T) {
	h := newCheckrHarness(t)
	require.NoError(t, h.act.RemoveCandidatePII(context.Background(), activities.ProviderCopyInput{CheckID: h.checkID}),
		"nothing to remove needs no contact either")
	require.Empty(t, h.fake.PIIRemovals())
}

func TestRemoveCandidatePIIRetriesWhatCheckrFailsAndGivesUpOnWhatCannotWork(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	_, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)
	in := activities.ProviderCopyInput{CheckID: h.checkID}

	requireAppError(t, h.act.RemoveCandidatePII(ctx, in), activities.ErrTypeNotConfigured, true)

	h.act.DeletionContact = deletionContact
	h.fake.FailAPI(1, http.StatusServiceUnavailable)
	requireAppError(t, h.act.RemoveCandidatePII(ctx, in), activities.ErrTypeProviderUnavailable, false)
	h.fake.FailAPI(1, http.StatusForbidden)
	requireAppError(t, h.act.RemoveCandidatePII(ctx, in), activities.ErrTypeProviderRejected, true)

	acct, err := h.st.CheckrAccount(ctx, h.account)
	require.NoError(t, err)
	_, err = h.st.MarkCheckrDeauthorized(ctx, h.account, *acct.AccessTokenFingerprint)
	require.NoError(t, err)
	requireAppError(t, h.act.RemoveCandidatePII(ctx, in), activities.ErrTypeAccountDeauthorized, true)
	require.Empty(t, h.fake.PIIRemovals())
}
