package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is every figure of a run, each beside the baseline measured in the same run on the same
// servers. Durations are in milliseconds or seconds as their names say; memory in MB (2^20 bytes).
type Report struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Source     Source    `json:"source"`
	CPUs       int       `json:"cpus"`
	Sizes      Sizes     `json:"sizes"`
	// Stages are the stages measured (-only), each with its baseline.
	Stages []string `json:"stages"`

	Ingest   *IngestFigures        `json:"ingest"`
	Delivery *DeliveryFigures      `json:"delivery"`
	State    *StateLatencyFigures  `json:"webhook_to_state"`
	History  []HistoryFigure       `json:"history"`
	Open     *OpenScreeningFigures `json:"open_screenings"`
}

// Sizes are the run's flags that shape its figures.
type Sizes struct {
	IngestSeconds  float64 `json:"ingest_seconds"`
	IngestClients  int     `json:"ingest_clients"`
	AckSeconds     float64 `json:"ack_seconds"`
	DeliveryN      int     `json:"delivery_screenings"`
	Signalers      int     `json:"signalers"`
	LatencyN       int     `json:"latency_screenings"`
	OpenN          int     `json:"open_screenings"`
	OpenChunk      int     `json:"open_chunk"`
	Creators       int     `json:"creators"`
	ReadRatePerSec int     `json:"read_rate_per_sec"`
	ReadSeconds    float64 `json:"read_seconds"`
	// ExternalStack: measured on a running stack (-api-url), not on one the bench started.
	ExternalStack bool `json:"external_stack"`
}

// IngestFigures: the raw single-row insert of the inbox row beside signed webhooks through HTTP,
// both closed loop with the same number of clients, then the ack latency open loop at half the
// measured ingest rate beside the raw insert's latency open loop at the same rate.
type IngestFigures struct {
	InsertBaselinePerSec float64 `json:"insert_baseline_per_sec"`
	IngestPerSec         float64 `json:"ingest_per_sec"`
	Ratio                float64 `json:"ratio"`
	AckRatePerSec        int     `json:"ack_rate_per_sec"`
	AckRequests          int     `json:"ack_requests"`
	AckP50Ms             float64 `json:"ack_p50_ms"`
	AckP99Ms             float64 `json:"ack_p99_ms"`
	AckMaxMs             float64 `json:"ack_max_ms"`
	AckBaselineP50Ms     float64 `json:"ack_baseline_p50_ms"`
	AckBaselineP99Ms     float64 `json:"ack_baseline_p99_ms"`
	AckBaselineMaxMs     float64 `json:"ack_baseline_max_ms"`
	AckP99Ratio          float64 `json:"ack_p99_ratio"`
}

// DeliveryFigures: the bare SDK signalling idle workflows beside the relay delivering the
// completions of waiting screenings, sent all at once.
type DeliveryFigures struct {
	Screenings int `json:"screenings"`
	Webhooks   int `json:"webhooks"`
	Delivered  int `json:"delivered"`
	// SDKSignalsPerSec is the mean of the bare SDK's rate measured before the relay's stages and
	// after them (SDKSignalsBeforePerSec, SDKSignalsAfterPerSec).
	SDKSignalsPerSec       float64 `json:"sdk_signals_per_sec"`
	SDKSignalsBeforePerSec float64 `json:"sdk_signals_before_per_sec"`
	SDKSignalsAfterPerSec  float64 `json:"sdk_signals_after_per_sec"`
	// SDKSignalsDrainPerSec is the same signals' pace from the first one done to the last
	// (drainRate), the mean of both measurements: the baseline of the backlog's.
	SDKSignalsDrainPerSec float64 `json:"sdk_signals_drain_per_sec"`
	RelayPerSec           float64 `json:"relay_per_sec"`
	Ratio                 float64 `json:"ratio"`
	InboxToSignalP50      float64 `json:"inbox_to_signal_p50_ms"`
	InboxToSignalP99      float64 `json:"inbox_to_signal_p99_ms"`
	// Backlog*: the relay alone, delivering as many events already stored (measureBacklog), at its
	// pace from the first delivery to the last (drainRate); zero on a running stack, whose serve
	// the bench does not control. BacklogFirstMs is how long after serve's resumption the first
	// delivery was recorded: the relay takes a stored backlog at its next sweep.
	BacklogDelivered int     `json:"backlog_delivered"`
	BacklogFirstMs   float64 `json:"backlog_first_ms"`
	BacklogPerSec    float64 `json:"backlog_per_sec"`
	BacklogRatio     float64 `json:"backlog_ratio"`
	// WorkerPaused: the bench's worker was stopped while the relay delivered (see
	// measureDelivery); false on a running stack, whose worker the bench does not control.
	WorkerPaused bool `json:"worker_paused"`
	// CompletionsPerSec is how fast the delivered screenings then completed, from the worker's
	// resumption (or the first webhook, when it ran throughout) to the last completion.
	CompletionsPerSec float64 `json:"completions_per_sec"`
	// SDKStartsPerSec is the baseline of screening creation: StartWorkflow from as many goroutines
	// as the API has clients, measured on the same idle workflows.
	SDKStartsPerSec float64 `json:"sdk_starts_per_sec"`
}

// StateLatencyFigures: from the acknowledgement of a screening's first completion webhook to its
// status being completed in Postgres, with screenings completed open loop at half the rate the
// stack completed them at in the delivery phase (DeliveryFigures.CompletionsPerSec).
type StateLatencyFigures struct {
	Screenings          int     `json:"screenings"`
	ScreeningsPerSecond float64 `json:"screenings_per_sec"`
	WebhooksPerSecond   int     `json:"webhooks_per_sec"`
	// The stages on the way: to the relay's signal (webhook_events.delivered_at, recorded just
	// after the signal returned) and to the check's status completed (checks.completed_at).
	SignalP50Ms float64 `json:"signalled_p50_ms"`
	SignalP99Ms float64 `json:"signalled_p99_ms"`
	CheckP50Ms  float64 `json:"check_completed_p50_ms"`
	CheckP99Ms  float64 `json:"check_completed_p99_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
}

// HistoryFigure is the Temporal history of one completed one-check screening: the screening's
// workflow and every child it started.
type HistoryFigure struct {
	Provider     string `json:"provider"`
	Workflows    int    `json:"workflows"`
	ParentEvents int    `json:"parent_events"`
	Events       int    `json:"events"`
}

// OpenScreeningFigures: many screenings waiting for their provider at once.
type OpenScreeningFigures struct {
	Screenings     int     `json:"screenings"`
	CreationPerSec float64 `json:"creation_per_sec"`
	CreationRatio  float64 `json:"creation_ratio"`
	// CreationBaselinePerSec is the bare SDK start rate: Delivery.SDKStartsPerSec when the
	// delivery stage ran, else measured the same way for this stage.
	CreationBaselinePerSec float64 `json:"creation_baseline_per_sec"`
	AllWaitingSeconds      float64 `json:"all_waiting_seconds"`
	// Memory of serve, worker, temporal (RSS) and postgres (PSS of all its processes).
	MemoryBeforeMB       map[string]float64 `json:"memory_before_mb"`
	MemoryOpenMB         map[string]float64 `json:"memory_open_mb"`
	MemoryPerThousandMB  map[string]float64 `json:"memory_per_1000_open_mb"`
	ReadRequests         int                `json:"read_requests"`
	ReadP50Ms            float64            `json:"read_p50_ms"`
	ReadP99Ms            float64            `json:"read_p99_ms"`
	Completed            int                `json:"completed"`
	CompleteAllSeconds   float64            `json:"complete_all_seconds"`
	CompletionsPerSecond float64            `json:"completions_per_sec"`
}

// complete is an error naming every figure of the stages measured that is missing or not positive.
func (r *Report) complete() error {
	var missing []string
	need := func(ok bool, what string) {
		if !ok {
			missing = append(missing, what)
		}
	}
	measured := func(stage string) bool { return slices.Contains(r.Stages, stage) }
	if i := r.Ingest; measured(stageIngest) && i == nil {
		missing = append(missing, "ingest")
	} else if i != nil {
		need(i.InsertBaselinePerSec > 0 && i.IngestPerSec > 0 && i.Ratio > 0, "ingest rates")
		if measured(stageAck) {
			need(i.AckRequests > 0 && i.AckP50Ms > 0 && i.AckP99Ms >= i.AckP50Ms && i.AckMaxMs >= i.AckP99Ms, "ack latency")
			need(i.AckBaselineP50Ms > 0 && i.AckBaselineP99Ms >= i.AckBaselineP50Ms && i.AckBaselineMaxMs >= i.AckBaselineP99Ms,
				"raw insert latency")
		}
	}
	if d := r.Delivery; measured(stageDelivery) && d == nil {
		missing = append(missing, "delivery")
	} else if d != nil {
		need(d.SDKSignalsBeforePerSec > 0 && d.SDKSignalsAfterPerSec > 0 && d.SDKSignalsPerSec > 0 && d.RelayPerSec > 0 && d.Ratio > 0 && d.SDKStartsPerSec > 0, "delivery rates")
		need(d.CompletionsPerSec > 0, "completion rate")
		need(d.Webhooks > 0 && d.Delivered == d.Webhooks, "every completion webhook delivered")
		need(d.InboxToSignalP50 > 0 && d.InboxToSignalP99 >= d.InboxToSignalP50, "inbox-to-signal latency")
	}
	if s := r.State; measured(stageLatency) && s == nil {
		missing = append(missing, "webhook-to-state latency")
	} else if s != nil {
		need(s.Screenings > 0 && s.P50Ms > 0 && s.P99Ms >= s.P50Ms, "webhook-to-state latency")
		need(s.SignalP50Ms > 0 && s.CheckP50Ms >= s.SignalP50Ms && s.P50Ms >= s.CheckP50Ms, "webhook-to-state stages")
	}
	if measured(stageHistory) {
		providers := map[string]bool{}
		for _, h := range r.History {
			need(h.Events > 0 && h.ParentEvents > 0 && h.Workflows >= 2, "history of "+h.Provider)
			providers[h.Provider] = true
		}
		need(len(providers) == len(historyProviders), "history of every provider")
	}
	if o := r.Open; measured(stageCreation) && o == nil {
		missing = append(missing, "screening creation")
	} else if o != nil {
		need(o.CreationPerSec > 0 && o.CreationBaselinePerSec > 0 && o.CreationRatio > 0, "creation rate")
	}
	if o := r.Open; measured(stageOpen) && o != nil {
		// A running stack's memory is read only for the processes named with -pids.
		need(len(o.MemoryOpenMB) > 0 || r.Sizes.ExternalStack, "memory while open")
		for name, mb := range o.MemoryOpenMB {
			need(mb > 0, "memory of "+name)
		}
		need(o.ReadRequests > 0 && o.ReadP99Ms > 0, "API read latency")
		need(o.Completed == o.Screenings && o.CompleteAllSeconds > 0, "every open screening completed")
	}
	if len(missing) > 0 {
		return fmt.Errorf("report incomplete: %s", strings.Join(missing, "; "))
	}
	return nil
}

func (r *Report) write(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// print writes the table: each figure, its baseline from the same run, and their ratio.
func (r *Report) print(w io.Writer) {
	source := r.Source.Dir
	if r.Source.Commit != "" {
		source = fmt.Sprintf("%s at %.12s", r.Source.Dir, r.Source.Commit)
		if n := len(r.Source.Dirty); n > 0 {
			source += fmt.Sprintf(" with %d uncommitted changes", n)
		}
	}
	fmt.Fprintf(w, "\nscreenflow load benchmark, %s, %d CPUs, %s\n\n", source, r.CPUs, r.StartedAt.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tscreenflow\tbaseline, same run\tratio")
	row := func(figure, measured, baseline string, ratio float64) {
		r := ""
		if ratio > 0 {
			r = fmt.Sprintf("%.2f×", ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", figure, measured, baseline, r)
	}
	if i := r.Ingest; i != nil {
		row(fmt.Sprintf("webhook ingest, %d clients, closed loop", r.Sizes.IngestClients), perSec(i.IngestPerSec),
			perSec(i.InsertBaselinePerSec)+" raw inbox-row insert", i.Ratio)
		if i.AckRequests > 0 {
			row(fmt.Sprintf("ack latency, open loop at %d/s (half)", i.AckRatePerSec),
				fmt.Sprintf("p50 %s, p99 %s, max %s", ms(i.AckP50Ms), ms(i.AckP99Ms), ms(i.AckMaxMs)),
				fmt.Sprintf("p50 %s, p99 %s, max %s raw inbox-row insert", ms(i.AckBaselineP50Ms), ms(i.AckBaselineP99Ms),
					ms(i.AckBaselineMaxMs)), i.AckP99Ratio)
		}
	}
	if d := r.Delivery; d != nil {
		paused := ""
		if d.WorkerPaused {
			paused = ", worker paused"
		}
		row(fmt.Sprintf("relay delivery, %d webhooks at once%s", d.Webhooks, paused), perSec(d.RelayPerSec),
			fmt.Sprintf("%s bare SDK signal, %d goroutines (%s before, %s after)", perSec(d.SDKSignalsPerSec), r.Sizes.Signalers,
				perSec(d.SDKSignalsBeforePerSec), perSec(d.SDKSignalsAfterPerSec)), d.Ratio)
		row("inbox to signal", fmt.Sprintf("p50 %s, p99 %s", ms(d.InboxToSignalP50), ms(d.InboxToSignalP99)), "", 0)
		if d.BacklogDelivered > 0 {
			row(fmt.Sprintf("relay delivery, %d events already stored%s, first to last", d.BacklogDelivered, paused),
				fmt.Sprintf("%s (first after %s)", perSec(d.BacklogPerSec), ms(d.BacklogFirstMs)),
				fmt.Sprintf("%s bare SDK signal, first to last", perSec(d.SDKSignalsDrainPerSec)), d.BacklogRatio)
		}
		row("screenings completed after delivery", fmt.Sprintf("%.1f/s", d.CompletionsPerSec), "", 0)
	}
	if s := r.State; s != nil {
		row(fmt.Sprintf("webhook to completed, open loop at %.1f screenings/s (half)", s.ScreeningsPerSecond),
			fmt.Sprintf("p50 %s, p99 %s, max %s", ms(s.P50Ms), ms(s.P99Ms), ms(s.MaxMs)), "", 0)
		row("  of which: to the relay's signal", fmt.Sprintf("p50 %s, p99 %s", ms(s.SignalP50Ms), ms(s.SignalP99Ms)), "", 0)
		row("  of which: to the check's status completed", fmt.Sprintf("p50 %s, p99 %s", ms(s.CheckP50Ms), ms(s.CheckP99Ms)), "", 0)
	}
	for _, h := range r.History {
		row("history events, one-check "+h.Provider, fmt.Sprintf("%d (%d workflows; parent %d)", h.Events, h.Workflows, h.ParentEvents), "", 0)
	}
	if o := r.Open; o != nil {
		baseline := fmt.Sprintf("%s bare SDK start, %d goroutines", perSec(o.CreationBaselinePerSec), r.Sizes.Creators)
		row(fmt.Sprintf("screening creation, %d clients (first %d)", r.Sizes.Creators, min(r.Sizes.OpenChunk, o.Screenings)),
			perSec(o.CreationPerSec), baseline, o.CreationRatio)
		if !slices.Contains(r.Stages, stageOpen) {
			tw.Flush()
			fmt.Fprintln(w)
			return
		}
		if o.AllWaitingSeconds == 0 {
			row(fmt.Sprintf("%d open screenings", o.Screenings), "never all waiting: run stopped", "", 0)
			tw.Flush()
			return
		}
		row(fmt.Sprintf("%d open screenings, %d at a time: all waiting after", o.Screenings, r.Sizes.OpenChunk), seconds(o.AllWaitingSeconds), "", 0)
		for _, name := range memoryOrder(o.MemoryOpenMB) {
			row("  memory of "+name, fmt.Sprintf("%.1f MB open, %.1f MB per 1,000 open", o.MemoryOpenMB[name], o.MemoryPerThousandMB[name]),
				fmt.Sprintf("%.1f MB before", o.MemoryBeforeMB[name]), 0)
		}
		row(fmt.Sprintf("  API read p99 at %d/s", r.Sizes.ReadRatePerSec), fmt.Sprintf("p50 %s, p99 %s", ms(o.ReadP50Ms), ms(o.ReadP99Ms)), "", 0)
		row(fmt.Sprintf("  complete all %d", o.Screenings), fmt.Sprintf("%s (%s)", seconds(o.CompleteAllSeconds), perSec(o.CompletionsPerSecond)), "", 0)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func perSec(v float64) string { return fmt.Sprintf("%.0f/s", v) }

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func seconds(v float64) string { return fmt.Sprintf("%.1f s", v) }

// memoryOrder lists processes in a fixed order, the total last.
func memoryOrder(mb map[string]float64) []string {
	order := []string{"serve", "worker", "temporal", "postgres"}
	var names []string
	for _, name := range order {
		if _, ok := mb[name]; ok {
			names = append(names, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(mb)) {
		if !slices.Contains(order, name) && name != "total" {
			names = append(names, name)
		}
	}
	if _, ok := mb["total"]; ok {
		names = append(names, "total")
	}
	return names
}

// memory lists processes' memory on one line.
func memory(mb map[string]float64) string {
	if len(mb) == 0 {
		return "not measured"
	}
	var parts []string
	for _, name := range memoryOrder(mb) {
		parts = append(parts, fmt.Sprintf("%s %.1f MB", name, mb[name]))
	}
	return strings.Join(parts, ", ")
}
