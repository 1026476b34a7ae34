package receiver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

func TestAPIEraseCandidateStartsTheErasureOfEveryScreeningOfTheReference(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	first, second := h.create(t), h.create(t)
	scr, err := h.store.Screening(t.Context(), h.tenantA.ID, first)
	require.NoError(t, err)
	target, err := h.store.CandidatesToErase(t.Context(), h.tenantA.ID, "emp-42")
	require.NoError(t, err)
	require.Equal(t, scr.CandidateID, target.CandidateIDs[0])
	wantID := workflows.ErasureWorkflowID(scr.CandidateID)
	h.temporal.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == wantID && o.TaskQueue == workflows.TaskQueue
	}), workflows.ErasureWorkflowName, workflows.ErasureInput{TenantID: h.tenantA.ID, KeyID: store.APIKeyID(h.keyA),
		CandidateIDs: target.CandidateIDs}).Return(&mocks.WorkflowRun{}, nil).Once()

	a := h.call(t, http.MethodDelete, "/v1/candidates/emp-42", h.keyA, "")
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	require.Equal(t, "erasing", a.body["status"])
	require.Equal(t, wantID, a.body["erasure_id"])
	require.Equal(t, []any{first, second}, a.body["screening_ids"])
	require.NotContains(t, string(a.raw), "emp-42")
}

func TestAPIEraseCandidateAnswersBadAndUnknownReferencesClearly(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	h.create(t)
	for _, tc := range []struct {
		name, path, key string
		status          int
		code            string
	}{
		{"no reference", "/v1/candidates/", h.keyA, http.StatusBadRequest, "invalid_reference"},
		{"a control character", "/v1/candidates/emp%0042", h.keyA, http.StatusBadRequest, "invalid_reference"},
		{"unknown", "/v1/candidates/emp-43", h.keyA, http.StatusNotFound, "not_found"},
		// 150 characters, 300 bytes: as long as a screening's reference may be, so it is looked up.
		{"long, not ASCII", "/v1/candidates/" + url.PathEscape(strings.Repeat("é", 150)), h.keyA, http.StatusNotFound, "not_found"},
		{"too long", "/v1/candidates/" + strings.Repeat("e", 201), h.keyA, http.StatusBadRequest, "invalid_reference"},
		{"another tenant's", "/v1/candidates/emp-42", h.keyB, http.StatusNotFound, "not_found"},
	} {
		a := h.call(t, http.MethodDelete, tc.path, tc.key, "")
		require.Equal(t, tc.status, a.status, "%s: %s", tc.name, a.raw)
		require.Equal(t, tc.code, a.body["error"], tc.name)
		require.NotEmpty(t, a.body["message"], tc.name)
	}
	// Nothing was started: the Temporal mock has no expectation, and fails the test on any call.
}

func TestAPIEraseCandidateWhenTemporalIsDownAsksForRetry(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	h.create(t)
	h.temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.ErasureWorkflowName, mock.Anything).
		Return(nil, serviceerror.NewUnavailable("connection refused")).Once()

	a := h.call(t, http.MethodDelete, "/v1/candidates/emp-42", h.keyA, "")
	require.Equal(t, http.StatusServiceUnavailable, a.status, string(a.raw))
	require.NotEmpty(t, a.header.Get("Retry-After"))
}
