package activities_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	"github.com/screenflow/screenflow/providers/complycube"
)

// echoedCandidate is what a provider refusing the harnesses' candidate might write back.
const echoedCandidate = "Ada Lovelace <ada@example.com>, born 1990-12-10 (10-12-1990)"

// requireNoCandidateData fails when an activity's error quotes the harnesses' candidate.
func requireNoCandidateData(t *testing.T, err error) {
	t.Helper()
	for _, pii := range []string{"Ada", "Lovelace", "ada@example.com", "1990"} {
		require.NotContains(t, err.Error(), pii)
	}
}

// requireProviderError unwraps the application error an activity failed with and checks its
// message, its type and whether a retry may help.
func requireProviderError(t *testing.T, err error, message, errType string, nonRetryable bool) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, message, appErr.Message())
	require.Equal(t, errType, appErr.Type())
	require.Equal(t, nonRetryable, appErr.NonRetryable())
	require.NoError(t, appErr.Unwrap(), "no cause travels with it into history")
	requireNoCandidateData(t, err)
}

// A refusal that echoes the candidate fails the step in our words: the call, the status and the
// provider's code, and nothing the provider wrote.
func TestComplyCubeRefusalThatEchoesTheCandidateReadsInOurWords(t *testing.T) {
	h := newComplyCubeHarness(t)
	in := activities.OpenCheckInput{CheckID: h.checkID, CheckType: "standard_screening_check", WorkflowID: "wf-1"}
	h.fake.FailAPIWithBody(1, http.StatusUnprocessableEntity,
		[]byte(`{"type":"validation_error","message":"Client `+echoedCandidate+` is invalid"}`))
	_, err := h.act.OpenComplyCubeCheck(context.Background(), in)
	requireProviderError(t, err, "could not create the ComplyCube client: "+
		"ComplyCube refused GET /clients (HTTP 422, code: validation_error)", activities.ErrTypeProviderRejected, true)

	h.fake.FailAPIWithBody(1, http.StatusBadGateway, []byte(`{"message":"upstream saw `+echoedCandidate+`"}`))
	_, err = h.act.OpenComplyCubeCheck(context.Background(), in)
	requireProviderError(t, err, "could not create the ComplyCube client: ComplyCube did not complete GET /clients (HTTP 502)",
		activities.ErrTypeProviderUnavailable, false)
}

func TestCheckrRefusalThatEchoesTheCandidateReadsInOurWords(t *testing.T) {
	h := newCheckrHarness(t)
	h.fake.FailAPIWithBody(1, http.StatusBadRequest, []byte(`{"error":"Candidate `+echoedCandidate+` is invalid"}`))
	_, err := h.act.OrderCheckr(context.Background(), h.order)
	requireProviderError(t, err, "could not create the Checkr candidate: Checkr refused GET /v1/candidates (HTTP 400)",
		activities.ErrTypeProviderRejected, true)

	h.fake.FailAPIWithBody(1, http.StatusUnprocessableEntity, []byte(`{"error":"invalid_candidate","errors":["`+echoedCandidate+`"]}`))
	_, err = h.act.OrderCheckr(context.Background(), h.order)
	requireProviderError(t, err, "could not create the Checkr candidate: "+
		"Checkr refused GET /v1/candidates (HTTP 422, code: invalid_candidate)", activities.ErrTypeProviderRejected, true)
}

func TestAuthenticateRefusalThatEchoesTheCandidateReadsInOurWords(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	in := activities.AuthenticateCheckInput{CheckID: h.checkID, WorkflowID: "wf-a"}
	h.fake.FailAPIWithBody(1, http.StatusBadRequest,
		[]byte(`{"code":"invalid_user","errorMessage":"User `+echoedCandidate+` is invalid"}`))
	_, err := h.act.OrderAuthenticateCheck(context.Background(), in)
	requireProviderError(t, err, "could not create the Authenticate user: "+
		"Authenticate refused POST /user/create (HTTP 400, code: invalid_user)", activities.ErrTypeProviderRejected, true)

	h.fake.FailAPIWithBody(1, http.StatusServiceUnavailable, []byte(`{"errorMessage":"retry `+echoedCandidate+` later"}`))
	_, err = h.act.OrderAuthenticateCheck(context.Background(), in)
	requireProviderError(t, err, "could not create the Authenticate user: Authenticate did not complete POST /user/create (HTTP 503)",
		activities.ErrTypeProviderUnavailable, false)
}

// A call that got no answer names the class of the failure, not the URL it went to.
func TestUnreachableProviderReadsInOurWords(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	unreachable := &activities.Authenticate{Store: h.st, Client: authenticate.NewClient(closed.URL, authKey, authenticate.Paths{}, nil)}
	_, err := unreachable.CreateAuthenticateUser(context.Background(), activities.AuthenticateUserInput{CheckID: h.checkID, WorkflowID: "wf-a"})
	requireProviderError(t, err, "Authenticate did not complete POST /user/create (connection refused)",
		activities.ErrTypeProviderUnavailable, false)

	cc := newComplyCubeHarness(t)
	unreachableCC := &activities.ComplyCube{Store: cc.st, Client: complycube.NewClient(closed.URL+"/v1", apiKey, nil)}
	_, err = unreachableCC.PollComplyCubeCheck(context.Background(), "5ed3918fbf06f30008e552c9")
	requireProviderError(t, err, "ComplyCube did not complete GET /checks/5ed3918fbf06f30008e552c9 (connection refused)",
		activities.ErrTypeProviderUnavailable, false)
}
