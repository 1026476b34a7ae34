package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// Authenticate creates the user every time, but every answer is lost. Authenticate has no lookup
// of users, so each retry creates another: after MaxLostUserCreations the check stops and fails
// saying why, its timeline shows each lost answer, and `screenflow providers lost-calls` lists
// them for an operator, who has the users removed at Authenticate and resolves each.
func TestEndToEndAuthenticateUserAnswersLostFailTheCheckAndAreListedForOperators(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	s.auth.LoseUserAnswers(activities.MaxLostUserCreations)

	created := s.createScreening(t, map[string]any{"provider": "authenticate", "type": "criminal"})
	done := s.waitForStatus(t, created.ID, store.StatusFailed, 2*time.Minute)

	check := done.Checks[0]
	require.Equal(t, store.StatusFailed, check.Status)
	require.Contains(t, check.FailureReason, "could not create the Authenticate user: the answers of 3 user creations were lost")
	require.Equal(t, activities.MaxLostUserCreations, s.auth.UsersCreated(), "no user is created after the last lost answer")
	lostEntries := 0
	for _, e := range done.Timeline {
		if e.Kind == "provider.call_lost" {
			lostEntries++
			require.NotContains(t, e.Detail, candidateLastName)
		}
	}
	require.Equal(t, activities.MaxLostUserCreations, lostEntries)

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"providers", "lost-calls"}, &out))
	listed := out.String()
	require.Contains(t, listed, "3 lost call(s)")
	lost, err := s.db.LostProviderCalls(context.Background())
	require.NoError(t, err)
	require.Len(t, lost, activities.MaxLostUserCreations)
	for _, c := range lost {
		row := fmt.Sprintf("%d  %s  %s  authenticate  create_user  %d", c.ID, check.ID, created.ID, c.Attempt)
		require.Contains(t, strings.Join(strings.Fields(listed), "  "), row, listed)
	}

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"providers", "lost-calls", "--resolve", fmt.Sprint(lost[0].ID)}, &out))
	require.Contains(t, out.String(), fmt.Sprintf("call %d (authenticate create_user, attempt 1, check %s) marked reconciled", lost[0].ID, check.ID))
	err = run(context.Background(), []string{"providers", "lost-calls", "--resolve", fmt.Sprint(lost[0].ID)}, &out)
	require.ErrorContains(t, err, "reconciled already")
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"providers", "lost-calls"}, &out))
	require.Contains(t, out.String(), "2 lost call(s)")
	require.NotContains(t, out.String(), fmt.Sprintf("\n%d ", lost[0].ID))
	require.ErrorContains(t, run(context.Background(), []string{"providers", "lost-calls", "extra"}, &out), "usage")
	require.Contains(t, s.timeline(t, created.ID), "reconciled by an operator")
}
