package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewAmendmentInput(t *testing.T) {
	for _, provider := range []string{"complycube", "authenticate", "checkr"} {
		in, ok := NewAmendmentInput(CheckWorkflowID("scr-1", provider, "chk-1"), provider)
		require.True(t, ok, provider)
		require.Equal(t, AmendmentInput{ScreeningID: "scr-1", CheckID: "chk-1"}, in, provider)
	}
	for _, id := range []string{
		CheckWorkflowID("scr-1", "checkr", "chk-1"), // another provider's
		ScreeningWorkflowID("scr-1"),
		"screening//complycube/c",
		"screening/s/complycube/",
		"screening/s/complycube/c/x",
		"x/s/complycube/c",
		"checkr-account/a-1",
	} {
		_, ok := NewAmendmentInput(id, "complycube")
		require.False(t, ok, id)
	}
}
