// Command screenflow runs background screenings on Temporal: the HTTP server (API and webhooks),
// the Temporal worker, migrations, tenant administration, and a whole local stack for development.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: screenflow <command>

commands:
  dev                 run the whole stack locally: Postgres, Temporal with its Web UI, the
                      providers' fakes, migrations, the worker and the HTTP server
  serve               run the HTTP server: HR API, provider webhooks, the relay to Temporal
  worker              run the Temporal worker
  codec-server        decrypt and encrypt Temporal payloads for the Web UI and CLI
                      (POST /decode, /encode on CODEC_SERVER_ADDR, CODEC_SERVER_TOKEN required)
  migrate             apply database migrations
  tenant create NAME  create a tenant and print its API key (shown once)
  tenant set-retention TENANT_ID DURATION|default
                      keep the tenant's candidates for DURATION (e.g. 2160h) after their
                      last screening finished, or for SCREENING_RETENTION (default)
  candidate find TENANT_ID REFERENCE
                      the tenant's screenings of the candidate with the HR platform's
                      REFERENCE, and the Temporal query (CandidateId) that lists their workflows
  providers subscribe PROVIDER
                      register this deployment's webhook URL with the provider (once), for
                      providers that take it through their API (authenticate, complycube)
  providers lost-calls [--resolve ID]
                      list provider calls whose answer was lost (each may have left a
                      duplicate record at the provider), or mark one reconciled
  keys rotate [--batch N]
                      re-seal every candidate, document and Checkr token not sealed under
                      SCREENFLOW_ENCRYPTION_KEY, N rows per transaction (default 500), while
                      serve and worker run; then SCREENFLOW_ENCRYPTION_OLD_KEYS can be emptied
  inbox list --status S [--provider P] [--limit N]
                      list the inbox's events of a status (pending, delivered, unroutable,
                      discarded, unparsed), newest first: ids and delivery state, no body
  inbox show ID       show an event's headers and body, credentials and candidate data masked
  inbox replay ID | --status S [--provider P] [--limit N]
                      hand unroutable, discarded or unparsed events back to the relay; events
                      pending or delivered are left alone, so a replay never delivers twice

configuration comes from environment variables; see README.md
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "screenflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	cfg, err := loadConfig(osEnv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	switch args[0] {
	case "dev":
		return runDev(ctx, cfg, stdout)
	case "serve":
		return runServe(ctx, cfg, log)
	case "worker":
		return runWorker(ctx, cfg, log)
	case "codec-server":
		return runCodecServer(ctx, cfg, log)
	case "migrate":
		return runMigrate(ctx, cfg, stdout)
	case "tenant":
		if len(args) >= 2 && args[1] == "set-retention" {
			if len(args) != 4 {
				return errors.New(setRetentionUsage)
			}
			return runTenantSetRetention(ctx, cfg, args[2], args[3], stdout)
		}
		if len(args) != 3 || args[1] != "create" {
			return errors.New("usage: screenflow tenant create NAME | tenant set-retention TENANT_ID DURATION|default")
		}
		return runTenantCreate(ctx, cfg, args[2], stdout)
	case "candidate":
		if len(args) != 4 || args[1] != "find" {
			return errors.New(candidateFindUsage)
		}
		return runCandidateFind(ctx, cfg, args[2], args[3], stdout)
	case "providers":
		if len(args) >= 2 && args[1] == "lost-calls" {
			return runLostCalls(ctx, cfg, args[2:], stdout)
		}
		if len(args) != 3 || args[1] != "subscribe" {
			return errors.New("usage: screenflow providers subscribe PROVIDER")
		}
		return runSubscribe(ctx, cfg, args[2], stdout)
	case "keys":
		return runKeys(ctx, cfg, args[1:], stdout)
	case "inbox":
		return runInbox(ctx, cfg, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
