package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/worker"
	"github.com/screenflow/screenflow/workflows"
)

// e2eEncryptionKey is the key of every end-to-end stack: the published key the replay tests
// decrypt the histories `make record-histories` records with. One key for all, because the tests
// share a Temporal server, where one test's stack leaves what it encrypted (the purge schedule) for
// the next.
func e2eEncryptionKey(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(mustRepoRoot(t), "workflows", "testdata", "histories", "payload-codec.key"))
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}

// e2eDataConverter decodes what the end-to-end stacks encrypted, and passes plain payloads through.
func e2eDataConverter(t *testing.T) converter.DataConverter {
	t.Helper()
	c, err := codec.New(mustParseKey(t, e2eEncryptionKey(t)))
	require.NoError(t, err)
	return codec.DataConverter(c)
}

// historyPayload is one payload of a history, with where it was found.
type historyPayload struct {
	field   string // e.g. "workflow_execution_started_event_attributes.input"
	payload *commonpb.Payload
}

// historyPayloads walks every field of every event and returns each payload it holds, except
// the search attributes' (the server indexes them, so they cannot be encrypted; they carry ids and
// statuses, never candidate data) and headers (none are set).
func historyPayloads(history *historypb.History) []historyPayload {
	var found []historyPayload
	payloadName := (&commonpb.Payload{}).ProtoReflect().Descriptor().FullName()
	skipped := map[protoreflect.FullName]bool{
		(&commonpb.SearchAttributes{}).ProtoReflect().Descriptor().FullName(): true,
		(&commonpb.Header{}).ProtoReflect().Descriptor().FullName():           true,
	}
	var walk func(m protoreflect.Message, path string)
	visit := func(v protoreflect.Value, fd protoreflect.FieldDescriptor, path string) {
		if fd.Kind() != protoreflect.MessageKind {
			return
		}
		if fd.Message().FullName() == payloadName {
			found = append(found, historyPayload{field: path, payload: v.Message().Interface().(*commonpb.Payload)})
			return
		}
		if !skipped[fd.Message().FullName()] {
			walk(v.Message(), path)
		}
	}
	walk = func(m protoreflect.Message, path string) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			p := strings.TrimPrefix(path+"."+string(fd.Name()), ".")
			switch {
			case fd.IsList():
				for i := range v.List().Len() {
					visit(v.List().Get(i), fd, p)
				}
			case fd.IsMap():
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					visit(mv, fd.MapValue(), p)
					return true
				})
			default:
				visit(v, fd, p)
			}
			return true
		})
	}
	for _, ev := range history.GetEvents() {
		walk(ev.ProtoReflect(), "")
	}
	return found
}

// rawHistory reads a workflow run's history with a client that has no codec, as the Temporal
// server stores it.
func rawHistory(t *testing.T, raw client.Client, workflowID, runID string) *historypb.History {
	t.Helper()
	history := &historypb.History{}
	iter := raw.GetWorkflowHistory(context.Background(), workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, ev)
	}
	require.NotEmpty(t, history.Events)
	return history
}

// codecReplayer registers workflows on a WorkflowReplayer; activities do not run in a replay.
type codecReplayer struct{ sdkworker.WorkflowReplayer }

func (codecReplayer) RegisterActivityWithOptions(any, activity.RegisterOptions) {}

func (r codecReplayer) RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions) {
	r.WorkflowReplayer.RegisterWorkflowWithOptions(w, options)
}

func replayHistory(t *testing.T, dc converter.DataConverter, history *historypb.History) error {
	t.Helper()
	wr, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{DataConverter: dc})
	require.NoError(t, err)
	r := codecReplayer{wr}
	require.NoError(t, worker.Register(r, builtin.Providers(), registry.Deps{}))
	return r.ReplayWorkflowHistory(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)), history)
}

func TestEndToEndHistoryPayloadsAreEncryptedAtRestAndDecodeThroughTheCodecServer(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	created := s.createScreening(t)
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Len(t, done.Checks, 1)
	check := done.Checks[0]
	tenant, err := s.db.TenantByAPIKey(context.Background(), s.apiKey)
	require.NoError(t, err)

	// The test's client has the codec: a query's answer decodes.
	checkWorkflowID := workflows.CheckWorkflowID(done.ID, check.Provider, check.ID)
	answer, err := s.temporal.QueryWorkflow(context.Background(), checkWorkflowID, "", workflows.QueryStatus)
	require.NoError(t, err)
	var status map[string]any
	require.NoError(t, answer.Get(&status))
	require.NotEmpty(t, status)

	raw, err := client.Dial(client.Options{HostPort: tmp.Address,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer raw.Close()
	screeningHistory := rawHistory(t, raw, workflows.ScreeningWorkflowID(done.ID), "")
	var all []historyPayload
	for _, h := range []*historypb.History{screeningHistory, rawHistory(t, raw, checkWorkflowID, "")} {
		all = append(all, historyPayloads(h)...)
	}

	// Every payload is encrypted, under the stack's key, and quotes nothing it carries.
	keyID := vault.KeyID(mustParseKey(t, s.cfg.EncryptionKey))
	known := []string{done.ID, check.ID, tenant.ID, s.providerCheckID(t, check.ID), "standard_screening_check",
		"emp-42", "clear", "check.completed", candidateLastName, candidateEmail, candidateDOB}
	fields := map[string]int{}
	for _, p := range all {
		fields[p.field]++
		require.Equal(t, codec.EncodingEncrypted, string(p.payload.GetMetadata()[converter.MetadataEncoding]),
			"%s is not encrypted", p.field)
		require.Equal(t, keyID, string(p.payload.GetMetadata()[codec.MetadataKeyID]), p.field)
		for _, plaintext := range known {
			require.NotContains(t, string(p.payload.GetData()), plaintext, "%s quotes %q", p.field, plaintext)
		}
	}
	t.Logf("%d payloads, all encrypted, by field: %v", len(all), fields)
	for _, field := range []string{
		"workflow_execution_started_event_attributes.input.payloads",
		"activity_task_scheduled_event_attributes.input.payloads",
		"activity_task_completed_event_attributes.result.payloads",
		"workflow_execution_signaled_event_attributes.input.payloads",
		"start_child_workflow_execution_initiated_event_attributes.input.payloads",
		"child_workflow_execution_completed_event_attributes.result.payloads",
		"workflow_execution_completed_event_attributes.result.payloads",
	} {
		require.Positive(t, fields[field], "the histories hold %s, encrypted", field)
	}

	// The codec server, as an operator runs it, decodes them for the holder of its token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	codecAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	const token = "e2e-codec-server-token"
	t.Setenv("SCREENFLOW_ENCRYPTION_KEY", s.cfg.EncryptionKey)
	t.Setenv("CODEC_SERVER_TOKEN", token)
	t.Setenv("CODEC_SERVER_ADDR", codecAddr)
	ctx, stop := context.WithCancel(context.Background())
	codecDone := make(chan error, 1)
	go func() { codecDone <- run(ctx, []string{"codec-server"}, &bytes.Buffer{}) }()
	defer func() {
		stop()
		require.NoError(t, <-codecDone)
	}()
	codecURL := "http://" + codecAddr
	waitListening(t, codecAddr, 10*time.Second, "the codec server")

	encrypted := make([]*commonpb.Payload, len(all))
	for i, p := range all {
		encrypted[i] = p.payload
	}
	resp, out := postPayloads(t, codecURL+"/decode", "", encrypted)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no token, no plaintext")
	require.Nil(t, out)
	resp, decoded := postPayloads(t, codecURL+"/decode", "Bearer "+token, encrypted)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, decoded, len(encrypted))
	var plaintext strings.Builder
	for i, p := range decoded {
		require.NotEqual(t, codec.EncodingEncrypted, string(p.GetMetadata()[converter.MetadataEncoding]), all[i].field)
		require.True(t, proto.Equal(p, mustDecode(t, s.cfg.PayloadCodec, encrypted[i])), all[i].field)
		plaintext.Write(p.GetData())
	}
	for _, id := range []string{done.ID, check.ID, tenant.ID, "standard_screening_check", "check.completed"} {
		require.Contains(t, plaintext.String(), id, "the decoded payloads carry %q", id)
	}
	var input workflows.ScreeningInput
	started := screeningHistory.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	startedDecoded, err := s.cfg.PayloadCodec.Decode(started.GetPayloads())
	require.NoError(t, err)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(&commonpb.Payloads{Payloads: startedDecoded}, &input))
	require.Equal(t, done.ID, input.ScreeningID)
	require.Equal(t, check.ID, input.Checks[0].CheckID)

	// The Temporal CLI shows the history decoded through the codec server.
	if cli := os.Getenv("TEMPORAL_CLI"); cli != "" {
		show := func(codecArgs ...string) []historyPayload {
			args := append([]string{"workflow", "show", "--address", tmp.Address, "--namespace", "default",
				"-w", workflows.ScreeningWorkflowID(done.ID), "-o", "json"}, codecArgs...)
			out, err := exec.Command(cli, args...).Output()
			require.NoError(t, err, string(out))
			var shown historypb.History
			require.NoError(t, protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(out, &shown))
			return historyPayloads(&shown)
		}
		for _, p := range show() {
			require.Equal(t, codec.EncodingEncrypted, string(p.payload.GetMetadata()[converter.MetadataEncoding]), p.field)
		}
		var shownPlaintext strings.Builder
		for _, p := range show("--codec-endpoint", codecURL, "--codec-auth", "Bearer "+token) {
			require.NotEqual(t, codec.EncodingEncrypted, string(p.payload.GetMetadata()[converter.MetadataEncoding]), p.field)
			shownPlaintext.Write(p.payload.GetData())
		}
		require.Contains(t, shownPlaintext.String(), `"Type":"standard_screening_check"`)
	}

	// A history recorded with encryption replays given the codec, and not without it.
	require.NoError(t, replayHistory(t, codec.DataConverter(s.cfg.PayloadCodec), screeningHistory))
	require.Error(t, replayHistory(t, converter.GetDefaultDataConverter(), screeningHistory))
}

func mustDecode(t *testing.T, c *codec.Codec, p *commonpb.Payload) *commonpb.Payload {
	t.Helper()
	decoded, err := c.Decode([]*commonpb.Payload{p})
	require.NoError(t, err)
	return decoded[0]
}

// After a rotation has dropped the key the purge schedule was written under, the worker writes it
// again under its own key: otherwise it could neither update the schedule nor run the purge.
func TestEndToEndThePurgeScheduleIsWrittenAgainWhenItsKeyIsDropped(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address})
	readableWith := func(key string) func() bool {
		c, err := codec.New(mustParseKey(t, key))
		require.NoError(t, err)
		tc, err := client.Dial(client.Options{HostPort: tmp.Address, DataConverter: codec.DataConverter(c),
			Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		require.NoError(t, err)
		t.Cleanup(tc.Close)
		return func() bool {
			d, err := tc.ScheduleClient().GetHandle(context.Background(), workflows.PurgeScheduleID).Describe(context.Background())
			if err != nil {
				return false
			}
			action := d.Schedule.Action.(*client.ScheduleWorkflowAction)
			var input workflows.PurgeInput
			err = codec.DataConverter(c).FromPayload(action.Args[0].(*commonpb.Payload), &input)
			return err == nil && input == s.cfg.purgeInput()
		}
	}
	require.Eventually(t, readableWith(e2eEncryptionKey(t)), 30*time.Second, 100*time.Millisecond,
		"the worker writes the schedule under its key")

	newKey := vault.NewKey()
	s.restart(t, map[string]string{"SCREENFLOW_ENCRYPTION_KEY": newKey, "SCREENFLOW_ENCRYPTION_OLD_KEYS": ""})
	require.Eventually(t, readableWith(newKey), 30*time.Second, 100*time.Millisecond,
		"a worker without the schedule's key writes it again under its own")
	require.False(t, readableWith(e2eEncryptionKey(t))(), "the schedule is under the new key only")

	// The next test's stack finds the schedule under the shared key again.
	s.restart(t, map[string]string{"SCREENFLOW_ENCRYPTION_KEY": e2eEncryptionKey(t)})
	require.Eventually(t, readableWith(e2eEncryptionKey(t)), 30*time.Second, 100*time.Millisecond)
}
