package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/worker"
)

// replayer registers workflows on a WorkflowReplayer; activities do not run in a replay.
type replayer struct{ sdkworker.WorkflowReplayer }

func (replayer) RegisterActivityWithOptions(any, activity.RegisterOptions) {}

func (r replayer) RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions) {
	r.WorkflowReplayer.RegisterWorkflowWithOptions(w, options)
}

// TestReplayRecordedHistories replays every history recorded from a release (`make
// record-histories`, one folder per release under testdata/histories) with today's workflow code:
// a change that would break a workflow in flight across a deploy fails here. See README.md,
// "Changing a workflow".
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories: run make record-histories")
	wr, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{DataConverter: recordingDataConverter(t)})
	require.NoError(t, err)
	r := replayer{wr}
	require.NoError(t, worker.Register(r, builtin.Providers(), registry.Deps{}))
	logger := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		release := filepath.Base(filepath.Dir(f))
		t.Run(release+"/"+filepath.Base(f), func(t *testing.T) {
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(logger, f))
		})
	}
}

// recordingDataConverter decrypts the payloads of histories recorded since payloads are encrypted:
// `make record-histories` runs the stack with the published test key of
// testdata/histories/payload-codec.key. Histories recorded before hold plain payloads, which the
// codec passes through.
func recordingDataConverter(t *testing.T) converter.DataConverter {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "histories", "payload-codec.key"))
	require.NoError(t, err)
	key, err := vault.ParseKey(string(raw))
	require.NoError(t, err)
	c, err := codec.New(key)
	require.NoError(t, err)
	return codec.DataConverter(c)
}
