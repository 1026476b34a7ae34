package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var (
	// A year after a candidate's last screening finished: long enough for the disputes and
	// record-keeping duties that follow a hiring decision, which usually run for a year, and no
	// longer, since keeping data past its purpose is itself a liability. README: Retention.
	settingScreeningRetention = registry.Setting{Name: "SCREENING_RETENTION", Default: "8760h"}
	settingPurgeInterval      = registry.Setting{Name: "PURGE_INTERVAL", Default: "1h"}
)

// retentionConfig is how long candidate data is kept and how often the purge looks for what is due.
type retentionConfig struct {
	// DefaultScreening is the retention of a tenant without one of its own.
	DefaultScreening time.Duration
	PurgeInterval    time.Duration
}

func loadRetention(env registry.Env) (retentionConfig, error) {
	var r retentionConfig
	var err error
	if r.DefaultScreening, err = envDuration(env, settingScreeningRetention); err != nil {
		return r, err
	}
	if r.PurgeInterval, err = envDuration(env, settingPurgeInterval); err != nil {
		return r, err
	}
	return r, nil
}

const setRetentionUsage = "usage: screenflow tenant set-retention TENANT_ID DURATION|default " +
	"(a duration such as 720h or 2160h, or default for SCREENING_RETENTION)"

// parseRetention reads the retention an operator gives a tenant: a positive Go duration, or
// "default" (0) for the deployment's SCREENING_RETENTION.
func parseRetention(value string) (time.Duration, error) {
	if value == "default" {
		return 0, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 720h (30 days) or 8760h (a year), nor default: %s",
			value, setRetentionUsage)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration: a retention must keep data for some time", value)
	}
	if d%time.Microsecond != 0 {
		return 0, fmt.Errorf("%q is finer than Postgres keeps: give it in whole microseconds", value)
	}
	return d, nil
}

func runTenantSetRetention(ctx context.Context, cfg config, tenantID, value string, stdout io.Writer) error {
	retention, err := parseRetention(value)
	if err != nil {
		return err
	}
	db, err := cfg.openDatabase(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	err = store.New(db).SetScreeningRetention(ctx, tenantID, retention)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no tenant has the id %q (the id `tenant create` printed)", tenantID)
	}
	if err != nil {
		return err
	}
	if retention == 0 {
		fmt.Fprintf(stdout, "tenant %s: candidates are kept for SCREENING_RETENTION (%s here; the worker's counts) "+
			"after their last screening finished\n", tenantID, cfg.Retention.DefaultScreening)
		return nil
	}
	fmt.Fprintf(stdout, "tenant %s: candidates are kept for %s after their last screening finished\n", tenantID, retention)
	return nil
}
