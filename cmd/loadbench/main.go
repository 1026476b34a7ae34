// Command loadbench measures screenflow's throughput and latency on the real stack, open-model,
// and puts every figure beside a baseline measured in the same run on the same servers: the raw
// inbox insert beside webhook ingest, the bare SDK signal beside relay delivery, the bare SDK
// workflow start beside screening creation. It prints one table and writes the report as JSON.
//
// By default it brings the stack up by itself: a throwaway Postgres and the Temporal dev server
// (devenv), `screenflow serve` and `screenflow worker` as two processes of a freshly built binary,
// and the provider fakes served in this process, with ComplyCube's completion webhooks held back
// until the bench sends them. With -api-url it points at a running stack instead (see -print-env).
//
// Performance is measured here, never asserted in tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/screenflow/screenflow/devenv"
)

// config is what the flags set.
type config struct {
	out    string // JSON report path
	source string // the repository screenflow is built from
	keep   bool   // keep the run's directory (logs, data) even when the run succeeded
	only   string // -only: comma list of stages; empty is every stage
	stages stages // what -only chose

	// A running stack, instead of the one the bench starts.
	apiURL          string
	databaseURL     string
	temporalAddress string
	namespace       string
	fakesAddr       string // where the bench serves its fakes; the running stack must point at it
	pids            string // name=pid,... of the running stack's processes, for their memory
	printEnv        bool

	// Sizes and durations.
	ingestDuration  time.Duration
	ingestClients   int
	ackDuration     time.Duration
	deliveryN       int
	signalers       int
	latencyN        int
	openN           int
	openChunk       int
	creators        int
	readRate        int
	readDuration    time.Duration
	waitTimeout     time.Duration
	settleAfterOpen time.Duration
	quietWithin     time.Duration // the longest wait for a quiet machine before a timed run
}

func defaultConfig() config {
	return config{
		namespace:       "default",
		fakesAddr:       "127.0.0.1:0",
		ingestDuration:  10 * time.Second,
		ingestClients:   32,
		ackDuration:     10 * time.Second,
		deliveryN:       300,
		signalers:       64,
		latencyN:        300,
		openN:           10000,
		openChunk:       1000,
		creators:        16,
		readRate:        200,
		readDuration:    10 * time.Second,
		waitTimeout:     30 * time.Minute,
		settleAfterOpen: 5 * time.Second,
		quietWithin:     time.Minute,
	}
}

// quick shrinks every size, for a first look in a minute or two.
func (c *config) quick() {
	c.ingestDuration, c.ackDuration, c.readDuration = 3*time.Second, 3*time.Second, 3*time.Second
	c.deliveryN, c.latencyN, c.openN = 50, 50, 200
	c.settleAfterOpen = time.Second
}

func (c config) external() bool { return c.apiURL != "" }

// parseFlags reads the flags over the defaults, or over the -quick sizes when -quick is given, so
// that a flag given explicitly wins either way.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg, quick, err := parseFlagsOver(defaultConfig(), args, stderr)
	if err != nil {
		return cfg, err
	}
	if quick {
		base := defaultConfig()
		base.quick()
		if cfg, _, err = parseFlagsOver(base, args, stderr); err != nil {
			return cfg, err
		}
	}
	if cfg.stages, err = parseStages(cfg.only); err != nil {
		return cfg, err
	}
	if cfg.external() && !cfg.printEnv && (cfg.databaseURL == "" || cfg.temporalAddress == "") {
		return cfg, errors.New("-api-url needs -database-url and -temporal-address")
	}
	for name, n := range map[string]int{"ingest-clients": cfg.ingestClients, "delivery-n": cfg.deliveryN,
		"signalers": cfg.signalers, "latency-n": cfg.latencyN, "open": cfg.openN, "open-chunk": cfg.openChunk, "creators": cfg.creators,
		"read-rate": cfg.readRate} {
		if n <= 0 {
			return cfg, fmt.Errorf("-%s must be positive", name)
		}
	}
	if cfg.out == "" || cfg.source == "" {
		root, err := devenv.RepoRoot()
		if err != nil {
			return cfg, err
		}
		if cfg.out == "" {
			cfg.out = filepath.Join(root, ".data", "bench-load.json")
		}
		if cfg.source == "" {
			cfg.source = root
		}
	}
	return cfg, nil
}

func parseFlagsOver(cfg config, args []string, stderr io.Writer) (config, bool, error) {
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small sizes and short durations (a few minutes)")
	fs.StringVar(&cfg.out, "out", cfg.out, "where to write the JSON report (default <repo>/.data/bench-load.json)")
	fs.StringVar(&cfg.source, "source", cfg.source, "repository to build screenflow from (default: this one)")
	fs.BoolVar(&cfg.keep, "keep", cfg.keep, "keep the run's directory (logs and data) after a successful run")
	fs.StringVar(&cfg.only, "only", cfg.only, "measure only these stages, a comma list of "+strings.Join(allStages, ",")+
		" (each with its baseline; ack adds ingest, latency adds delivery, open adds creation, as they are paced by them); default: all")

	fs.StringVar(&cfg.apiURL, "api-url", cfg.apiURL, "a running screenflow's URL; the bench then starts nothing but its fakes")
	fs.StringVar(&cfg.databaseURL, "database-url", cfg.databaseURL, "with -api-url: the running stack's Postgres")
	fs.StringVar(&cfg.temporalAddress, "temporal-address", cfg.temporalAddress, "with -api-url: the running stack's Temporal frontend")
	fs.StringVar(&cfg.namespace, "namespace", cfg.namespace, "with -api-url: the Temporal namespace")
	fs.StringVar(&cfg.fakesAddr, "fakes-addr", cfg.fakesAddr, "where the bench serves its provider fakes (host:port)")
	fs.StringVar(&cfg.pids, "pids", cfg.pids, "with -api-url: name=pid,... of the stack's processes (serve, worker, temporal, postgres) whose memory to read")
	fs.BoolVar(&cfg.printEnv, "print-env", cfg.printEnv, "print the settings a running stack needs to be measured with -api-url and -fakes-addr, and exit")

	fs.DurationVar(&cfg.ingestDuration, "ingest-duration", cfg.ingestDuration, "how long the insert baseline and the closed-loop ingest each run")
	fs.IntVar(&cfg.ingestClients, "ingest-clients", cfg.ingestClients, "concurrent clients of the insert baseline and of the ingest")
	fs.DurationVar(&cfg.ackDuration, "ack-duration", cfg.ackDuration, "how long the open-loop ack latency run lasts")
	fs.IntVar(&cfg.deliveryN, "delivery-n", cfg.deliveryN, "waiting screenings whose completions are sent at once (and idle workflows signalled for the baseline)")
	fs.IntVar(&cfg.signalers, "signalers", cfg.signalers, "goroutines of the bare SDK signal baseline")
	fs.IntVar(&cfg.latencyN, "latency-n", cfg.latencyN, "screenings completed at half the delivery capacity, for webhook-to-state latency")
	fs.IntVar(&cfg.openN, "open", cfg.openN, "screenings held open at once")
	fs.IntVar(&cfg.openChunk, "open-chunk", cfg.openChunk, "open screenings created at a time, each chunk once the one before last is waiting")
	fs.IntVar(&cfg.creators, "creators", cfg.creators, "concurrent clients creating screenings (and starting workflows for the baseline)")
	fs.IntVar(&cfg.readRate, "read-rate", cfg.readRate, "GET /v1/screenings/{id} per second while the screenings are open")
	fs.DurationVar(&cfg.readDuration, "read-duration", cfg.readDuration, "how long the API reads run")
	fs.DurationVar(&cfg.waitTimeout, "wait-timeout", cfg.waitTimeout, "the longest wait for screenings to reach a state")
	fs.DurationVar(&cfg.quietWithin, "quiet-within", cfg.quietWithin, "the longest wait, before each timed run, for the machine's CPU to be quiet (0: none)")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, *quick, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	if cfg.printEnv {
		printStackEnv(os.Stdout, cfg)
		return
	}
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// run brings the stack up (or reaches the running one), measures every figure, prints the table
// and writes the JSON report. A report that misses a figure is an error.
func run(ctx context.Context, cfg config, stdout io.Writer) (*Report, error) {
	s, err := startStack(ctx, cfg, stdout)
	if err != nil {
		return nil, err
	}
	rep, runErr := measure(ctx, cfg, s, stdout)
	if stopErr := s.stop(runErr == nil && !cfg.keep); stopErr != nil {
		runErr = errors.Join(runErr, stopErr)
	}
	if rep != nil {
		rep.print(stdout)
		if err := rep.write(cfg.out); err != nil {
			runErr = errors.Join(runErr, err)
		} else {
			fmt.Fprintf(stdout, "report written to %s\n", cfg.out)
		}
	}
	if runErr != nil {
		return rep, runErr
	}
	return rep, rep.complete()
}
