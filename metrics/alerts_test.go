package metrics_test

import (
	_ "embed"
	"log/slog"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/screenflow/screenflow/metrics"
	"github.com/screenflow/screenflow/metrics/apicalls"
	"github.com/screenflow/screenflow/store"
)

//go:embed alerts.yml
var alertRules []byte

// metricName finds the metrics an expression reads.
var metricName = regexp.MustCompile(`\bscreenflow_[a-z_]+`)

func TestAlertRulesNameOnlyMetricsThatExist(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(alertRules, &rules))
	require.Len(t, rules.Groups, 1)

	exported := exportedMetrics(t)
	var alerts []string
	for _, rule := range rules.Groups[0].Rules {
		alerts = append(alerts, rule.Alert)
		require.NotEmpty(t, rule.Expr, rule.Alert)
		if rule.For != "" {
			_, err := time.ParseDuration(rule.For)
			require.NoError(t, err, rule.Alert)
		}
		names := metricName.FindAllString(rule.Expr, -1)
		require.NotEmpty(t, names, "%s reads screenflow's metrics", rule.Alert)
		for _, name := range names {
			require.Contains(t, exported, name, "%s reads %s, which screenflow does not export", rule.Alert, name)
		}
	}
	for _, want := range []string{"ScreenflowInboxEventsWaiting", "ScreenflowUnroutableEvents", "ScreenflowProviderErrorRate"} {
		require.Contains(t, alerts, want)
	}
}

// exportedMetrics are the names of serve's metrics, with one sample of each recorded.
func exportedMetrics(t *testing.T) []string {
	reg := metrics.NewRegistry()
	metrics.NewWebhooks(reg, nil).ObserveWebhook("complycube", "", metrics.AnswerStored, time.Millisecond)
	metrics.NewRelay(reg).ObserveDelivery("complycube", store.InboxDelivered, time.Millisecond)
	apicalls.Calls.ObserveCall("complycube", "GET /checks/:id", "2xx", time.Millisecond)
	reg.MustRegister(metrics.NewDatabaseCollector(fakeDatabase{}, []string{"complycube"}, slog.New(slog.DiscardHandler)))
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	require.True(t, slices.Contains(names, "screenflow_webhooks_received_total"))
	return names
}
