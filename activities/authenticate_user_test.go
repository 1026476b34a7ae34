package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	"github.com/screenflow/screenflow/store"
)

func (h *authenticateHarness) createUser() (string, error) {
	return h.act.CreateAuthenticateUser(context.Background(), activities.AuthenticateUserInput{CheckID: h.checkID, WorkflowID: "wf-a"})
}

func (h *authenticateHarness) userCreation() store.ProviderOperation {
	return store.ProviderOperation{CheckID: h.checkID, Provider: authenticate.Name, Operation: activities.OperationCreateUser}
}

// callStates returns the states of the check's user creations, by attempt.
func (h *authenticateHarness) callStates(t *testing.T) []store.ProviderCallState {
	t.Helper()
	var states []store.ProviderCallState
	require.NoError(t, h.st.DB().Select(&states, `SELECT state FROM provider_calls WHERE check_id = $1 AND operation = $2
		ORDER BY attempt`, h.checkID, activities.OperationCreateUser))
	return states
}

// lostTimeline returns the details of the check's timeline entries about lost calls.
func (h *authenticateHarness) lostTimeline(t *testing.T) []string {
	t.Helper()
	var details []string
	require.NoError(t, h.st.DB().Select(&details, `SELECT detail FROM timeline_entries
		WHERE check_id = $1 AND kind = 'provider.call_lost' ORDER BY occurred_at, id`, h.checkID))
	return details
}

func requireRetryable(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "retried: %v", err)
}

// Authenticate created the user but its answer was lost: the next attempt creates another user
// (Authenticate has no lookup), and the lost one is on the check's timeline and listed for an
// operator to have it removed.
func TestAuthenticateUserCreationWhoseAnswerWasLostIsRecordedForAnOperator(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	h.fake.LoseUserAnswers(1)

	_, err := h.createUser()
	requireRetryable(t, err)
	require.Equal(t, []store.ProviderCallState{store.CallLost}, h.callStates(t), "a 504 is a lost answer at once")
	code, err := h.createUser()
	require.NoError(t, err)

	require.Equal(t, 2, h.fake.UsersCreated())
	require.Equal(t, []store.ProviderCallState{store.CallLost, store.CallSucceeded}, h.callStates(t))
	route, err := h.st.Route(ctx, authenticate.Name, authenticate.SubjectFor(code))
	require.NoError(t, err)
	require.Equal(t, "wf-a", route)
	timeline := h.lostTimeline(t)
	require.Len(t, timeline, 1)
	require.Contains(t, timeline[0], "authenticate create_user, attempt 1: the answer was lost")
	for _, pii := range []string{"Ada", "Lovelace", "ada@example.com", "1990", "Baker"} {
		require.NotContains(t, timeline[0], pii)
	}
	lost, err := h.st.LostProviderCalls(ctx)
	require.NoError(t, err)
	require.Len(t, lost, 1)
	require.Equal(t, h.checkID, lost[0].CheckID)
	require.Equal(t, activities.OperationCreateUser, lost[0].Operation)

	again, err := h.createUser()
	require.NoError(t, err)
	require.Equal(t, code, again, "the user is created once the answer came")
	require.Equal(t, 2, h.fake.UsersCreated())
}

// A worker killed between Authenticate's answer and recording it leaves the call pending: the next
// attempt finds it and marks it lost.
func TestAuthenticateUserCreationCutShortIsFoundLostByTheNextAttempt(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	_, err := h.st.RecordProviderCall(ctx, h.userCreation())
	require.NoError(t, err)
	_, err = h.act.Client.CreateUser(ctx, authenticate.CreateUserRequest{FirstName: "Ada", LastName: "Lovelace",
		Email: "ada@example.com", DOB: "10-12-1990"})
	require.NoError(t, err)

	_, err = h.createUser()
	require.NoError(t, err)
	require.Equal(t, []store.ProviderCallState{store.CallLost, store.CallSucceeded}, h.callStates(t))
	require.Len(t, h.lostTimeline(t), 1)
}

// A worker killed between recording the answer and routing the user: the next attempt routes the
// user it recorded instead of creating another.
func TestAuthenticateUserAnsweredButNotRoutedIsAdopted(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	id, err := h.st.RecordProviderCall(ctx, h.userCreation())
	require.NoError(t, err)
	code, err := h.act.Client.CreateUser(ctx, authenticate.CreateUserRequest{FirstName: "Ada", LastName: "Lovelace",
		Email: "ada@example.com", DOB: "10-12-1990"})
	require.NoError(t, err)
	_, err = h.st.FinishProviderCall(ctx, id, store.CallSucceeded, code)
	require.NoError(t, err)

	adopted, err := h.createUser()
	require.NoError(t, err)
	require.Equal(t, code, adopted)
	require.Equal(t, 1, h.fake.UsersCreated())
	route, err := h.st.Route(ctx, authenticate.Name, authenticate.SubjectFor(code))
	require.NoError(t, err)
	require.Equal(t, "wf-a", route)
}

// Each lost answer may be a user holding the candidate's data: after MaxLostUserCreations the
// check stops creating users and fails for good, saying why.
func TestAuthenticateUserCreationStopsAfterTooManyLostAnswers(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	h.fake.LoseUserAnswers(activities.MaxLostUserCreations)
	for range activities.MaxLostUserCreations {
		_, err := h.createUser()
		requireRetryable(t, err)
	}

	_, err := h.createUser()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable())
	require.Equal(t, activities.ErrTypeAnswersLost, appErr.Type())
	require.Contains(t, appErr.Message(), "the answers of 3 user creations were lost")
	require.Contains(t, appErr.Message(), "screenflow providers lost-calls")
	require.Equal(t, activities.MaxLostUserCreations, h.fake.UsersCreated(), "no user is created after the last lost answer")
	require.Len(t, h.lostTimeline(t), activities.MaxLostUserCreations)
	lost, err := h.st.LostProviderCalls(context.Background())
	require.NoError(t, err)
	require.Len(t, lost, activities.MaxLostUserCreations)
}

// An answer that says no user was created (a 4xx or a 503), or a request that never left, leaves nothing
// at Authenticate to reconcile.
func TestAuthenticateUserRefusedOrNeverSentIsNotLost(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	h.fake.FailAPI(1, http.StatusBadRequest)
	_, err := h.createUser()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a 400 will not change on retry")

	// An outage's 503s say the request was not taken; counting them as lost would fail the check
	// within seconds of an outage.
	h.fake.FailAPI(1, http.StatusServiceUnavailable)
	_, err = h.createUser()
	requireRetryable(t, err)

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	unreachable := &activities.Authenticate{Store: h.st, Client: authenticate.NewClient(closed.URL, authKey, authenticate.Paths{}, nil)}
	_, err = unreachable.CreateAuthenticateUser(context.Background(), activities.AuthenticateUserInput{CheckID: h.checkID, WorkflowID: "wf-a"})
	requireRetryable(t, err)

	require.Equal(t, []store.ProviderCallState{store.CallRefused, store.CallRefused, store.CallNotSent}, h.callStates(t))
	require.Empty(t, h.lostTimeline(t))
	lost, err := h.st.LostProviderCalls(context.Background())
	require.NoError(t, err)
	require.Empty(t, lost)
}
