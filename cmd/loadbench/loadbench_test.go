package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestLoadBenchAtTinySizes runs the whole bench on the real stack at tiny sizes and checks that
// the report is complete and sane. It asserts nothing about performance: the figures are the
// bench's to report, never a test's to judge.
func TestLoadBenchAtTinySizes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Postgres, Temporal, serve and worker; skipped with -short")
	}
	cfg, err := parseFlags([]string{"-out", filepath.Join(t.TempDir(), "bench-load.json")}, io.Discard)
	require.NoError(t, err)
	cfg.ingestDuration, cfg.ackDuration, cfg.readDuration = time.Second, time.Second, time.Second
	cfg.ingestClients, cfg.signalers, cfg.creators = 8, 8, 4
	cfg.deliveryN, cfg.latencyN, cfg.openN, cfg.openChunk = 6, 6, 12, 5
	cfg.readRate, cfg.settleAfterOpen, cfg.waitTimeout = 20, 0, 3*time.Minute
	cfg.quietWithin = 300 * time.Millisecond // other packages' tests run beside this one

	var out bytes.Buffer
	rep, err := run(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())

	raw, err := os.ReadFile(cfg.out)
	require.NoError(t, err)
	var written Report
	require.NoError(t, json.Unmarshal(raw, &written))
	require.Equal(t, rep.Open.Completed, written.Open.Completed, "the JSON file is the report printed")
	require.NoError(t, written.complete())

	require.Equal(t, cfg.openN, written.Open.Completed, "every open screening completed")
	require.Equal(t, 2*cfg.deliveryN, written.Delivery.Webhooks, "check.completed and check.completed.clear per screening")
	require.Equal(t, written.Delivery.Webhooks, written.Delivery.Delivered)
	require.Equal(t, written.Delivery.Webhooks, written.Delivery.BacklogDelivered, "as many events delivered from a stored backlog")
	require.Positive(t, written.Delivery.BacklogRatio)
	require.Equal(t, cfg.latencyN, written.State.Screenings)
	require.Len(t, written.History, len(historyProviders))
	for _, name := range []string{"serve", "worker", "temporal", "postgres"} {
		require.Positive(t, written.Open.MemoryOpenMB[name], "memory of %s", name)
	}
	require.NotEmpty(t, written.Source.Commit, "the report names the commit it measured")
	for _, figure := range []string{"webhook ingest", "ack latency", "relay delivery", "events already stored", "inbox to signal", "webhook to completed",
		"history events, one-check complycube", "history events, one-check authenticate", "history events, one-check checkr",
		"screening creation", "per 1,000 open", "memory of worker", "API read p99", "complete all"} {
		require.Contains(t, out.String(), figure)
	}
}

func TestQuickSizesGiveWayToFlagsGivenExplicitly(t *testing.T) {
	cfg, err := parseFlags([]string{"-quick", "-open", "500", "-out", "x.json", "-source", "."}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 500, cfg.openN)
	require.Equal(t, 50, cfg.deliveryN, "the -quick size")
	require.Equal(t, 3*time.Second, cfg.ingestDuration, "the -quick duration")

	cfg, err = parseFlags([]string{"-out", "x.json", "-source", "."}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 10000, cfg.openN, "the issue's size by default")

	_, err = parseFlags([]string{"-api-url", "http://127.0.0.1:8080"}, io.Discard)
	require.ErrorContains(t, err, "-database-url")
}

func TestOnlyChoosesStagesWithWhatPacesThem(t *testing.T) {
	cfg, err := parseFlags([]string{"-out", "x.json", "-source", "."}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, allStages, cfg.stages.names(), "every stage by default")

	cfg, err = parseFlags([]string{"-quick", "-only", "delivery,latency", "-out", "x.json", "-source", "."}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{stageDelivery, stageLatency}, cfg.stages.names())

	cfg, err = parseFlags([]string{"-only", "ack, latency,open", "-out", "x.json", "-source", "."}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{stageIngest, stageAck, stageDelivery, stageLatency, stageCreation, stageOpen}, cfg.stages.names())

	_, err = parseFlags([]string{"-only", "delivery,speed", "-out", "x.json", "-source", "."}, io.Discard)
	require.ErrorContains(t, err, `unknown stage "speed"`)
}

func TestReportCompleteAsksOnlyForTheStagesMeasured(t *testing.T) {
	rep := &Report{Stages: []string{stageHistory}}
	require.ErrorContains(t, rep.complete(), "history of every provider")
	for _, p := range historyProviders {
		rep.History = append(rep.History, HistoryFigure{Provider: p.name, Workflows: 2, ParentEvents: 20, Events: 40})
	}
	require.NoError(t, rep.complete())

	rep.Stages = append(rep.Stages, stageCreation)
	require.ErrorContains(t, rep.complete(), "screening creation")
	rep.Open = &OpenScreeningFigures{Screenings: 5, CreationPerSec: 40, CreationBaselinePerSec: 80, CreationRatio: 0.5}
	require.NoError(t, rep.complete(), "the open stage's figures are not asked for")
	rep.Stages = append(rep.Stages, stageOpen)
	require.ErrorContains(t, rep.complete(), "every open screening completed")
}

func TestDrainRateIsThePaceFromTheFirstCompletionToTheLast(t *testing.T) {
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	first := start.Add(700 * time.Millisecond) // a sweep's tick after the start
	batch := []time.Time{first, first, first, first.Add(time.Second), first.Add(2 * time.Second)}
	require.InDelta(t, 1.0, drainRate(start, batch), 1e-9, "two completions after the first batch, in two seconds")
	require.InDelta(t, 3/0.7, drainRate(start, []time.Time{first, first, first}), 1e-9, "one instant: since the start")
	require.Zero(t, drainRate(start, nil))
}

func TestCPUTimesCountEverythingButIdleAndIOWaitAsBusy(t *testing.T) {
	busy, total, err := parseCPUTimes("cpu  100 5 50 1000 20 3 7 0 0 0\ncpu0 50 2 25 500 10 1 3 0 0 0\n")
	require.NoError(t, err)
	require.Equal(t, uint64(100+5+50+3+7), busy)
	require.Equal(t, uint64(100+5+50+1000+20+3+7), total)

	_, _, err = parseCPUTimes("intr 1 2 3\n")
	require.Error(t, err)
	_, _, err = parseCPUTimes("cpu 1 2 x 4 5 6\n")
	require.Error(t, err)
}

func TestFindSlowLocatesTheSlowRequestsInTheirAttack(t *testing.T) {
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	sent := func(at, took time.Duration) *vegeta.Result {
		return &vegeta.Result{Timestamp: start.Add(at), Latency: took}
	}
	results := []*vegeta.Result{sent(time.Second, 5*time.Millisecond), sent(0, 2*time.Millisecond),
		sent(3*time.Second, 900*time.Millisecond), sent(2*time.Second, 80*time.Millisecond), sent(4*time.Second, 50*time.Millisecond)}
	slow := findSlow(results, start, 50*time.Millisecond)
	require.Equal(t, slowRequests{count: 2, from: 2 * time.Second, to: 3 * time.Second}, slow)
	require.Zero(t, findSlow(results, start, time.Second).count)
}
