package metrics

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// temporalReportInterval is how often the SDK's metrics are copied into reg: a scrape sees them
// at most this late.
const temporalReportInterval = time.Second

// TemporalHandler returns the metrics handler for a Temporal client's options
// (client.Options.MetricsHandler), which puts the SDK's own metrics (temporal_request_total,
// temporal_workflow_task_execution_latency_seconds, ...) in reg, beside screenflow's. Its timers are
// histograms, so that they add up across processes. Close the returned closer when the client is
// closed.
func TemporalHandler(reg prometheus.Registerer, log *slog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// The SDK's metrics are worth less than the process: one that cannot be registered (a name
		// reused with other tags) is logged and dropped rather than panicking the process.
		OnRegisterError: func(err error) { log.Warn("metrics: a Temporal SDK metric was not registered", "error", err) },
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:         reporter,
		Separator:              tallyprom.DefaultSeparator,
		SanitizeOptions:        &sdktally.PrometheusSanitizeOptions,
		OmitCardinalityMetrics: true,
	}, temporalReportInterval)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}
