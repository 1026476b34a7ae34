package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
)

const inboxUsage = `usage: screenflow inbox list --status pending|delivered|unroutable|discarded|unparsed [--provider P] [--limit N]
       screenflow inbox show ID
       screenflow inbox replay ID | --status unroutable|discarded|unparsed [--provider P] [--limit N]`

// lastErrorWidth keeps the listing's rows on one line; `inbox show` has the whole error.
const lastErrorWidth = 60

// runInbox runs the operator's inbox tools: the same as the operator API (receiver/operator.go),
// for an operator at a shell with the database's URL and the encryption key.
func runInbox(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(inboxUsage)
	}
	db, st, _, err := cfg.openSealedStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "list":
		f, rest, err := inboxFilterFlags("inbox list", args[1:])
		if err != nil || len(rest) > 0 || f.Status == "" {
			return errors.New(inboxUsage)
		}
		return inboxList(ctx, st, f, stdout)
	case "show":
		if len(args) != 2 {
			return errors.New(inboxUsage)
		}
		id, err := inboxEventID(args[1])
		if err != nil {
			return err
		}
		return inboxShow(ctx, st, id, stdout)
	case "replay":
		return inboxReplay(ctx, cfg, st, args[1:], stdout)
	default:
		return errors.New(inboxUsage)
	}
}

// inboxFilterFlags reads --status, --provider and --limit, and returns the other arguments.
func inboxFilterFlags(name string, args []string) (store.InboxFilter, []string, error) {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	var f store.InboxFilter
	flags.StringVar(&f.Status, "status", "", "the events' status")
	flags.StringVar(&f.Provider, "provider", "", "only this provider's events")
	flags.IntVar(&f.Limit, "limit", store.DefaultInboxListLimit, "at most this many events")
	if err := flags.Parse(args); err != nil {
		return f, nil, err
	}
	return f, flags.Args(), nil
}

func inboxEventID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%q is not an inbox event id (the ID column of `screenflow inbox list`)", arg)
	}
	return id, nil
}

// inboxList prints the events' ids and delivery state, never their bodies.
func inboxList(ctx context.Context, st *store.Store, f store.InboxFilter, stdout io.Writer) error {
	entries, err := st.ListInboxEvents(ctx, f)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "no %s events\n", f.Status)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROVIDER\tEVENT_TYPE\tRECEIVED_AT\tSTATUS\tATTEMPTS\tLAST_ERROR\tSUBJECT")
	for _, e := range entries {
		lastError := "-"
		if e.LastError != nil {
			lastError = oneLine(*e.LastError, lastErrorWidth)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Provider, orDash(e.EventType),
			e.ReceivedAt.UTC().Format(time.RFC3339), e.Status, e.Attempts, lastError, orDash(e.Subject))
	}
	return tw.Flush()
}

// inboxShow prints one event as the operator API shows it: headers and body masked.
func inboxShow(ctx context.Context, st *store.Store, id int64, stdout io.Writer) error {
	d, err := st.InboxEvent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no inbox event %d", id)
	}
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(receiver.MaskInboxEvent(d), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// inboxReplay replays one event, or the events of a status, and prints what became of each.
func inboxReplay(ctx context.Context, cfg config, st *store.Store, args []string, stdout io.Writer) error {
	f, rest, err := inboxFilterFlags("inbox replay", args)
	if err != nil || (f.Status == "") == (len(rest) == 0) || len(rest) > 1 {
		return errors.New(inboxUsage)
	}
	reparse := receiver.Reparse(cfg.Providers)
	var results []store.ReplayResult
	if f.Status == "" {
		id, err := inboxEventID(rest[0])
		if err != nil {
			return err
		}
		r, err := st.ReplayInboxEvent(ctx, id, reparse)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no inbox event %d", id)
		}
		if err != nil {
			return err
		}
		results = []store.ReplayResult{r}
	} else {
		// What was replayed before an error stays replayed: it is printed before the error.
		results, err = st.ReplayInboxEvents(ctx, f, reparse)
	}
	replayed := 0
	for _, r := range results {
		if r.Replayed {
			replayed++
			fmt.Fprintf(stdout, "event %d (%s): replayed\n", r.ID, r.Status)
		} else {
			fmt.Fprintf(stdout, "event %d (%s): left alone: %s\n", r.ID, r.Status, r.Reason)
		}
	}
	fmt.Fprintf(stdout, "%d event(s) replayed: pending again, the relay of `screenflow serve` delivers them within a second\n", replayed)
	return err
}

// oneLine returns s on one line, cut to at most width runes.
func oneLine(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
