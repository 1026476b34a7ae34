package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/screenflow/screenflow/store"
)

const lostCallsUsage = "usage: screenflow providers lost-calls [--resolve ID]"

// runLostCalls lists the provider calls whose answer was lost, or with --resolve marks one
// reconciled. Each may have left a record holding a candidate's data at the provider (an
// Authenticate user) that screenflow does not know: an operator has it removed, then resolves it.
func runLostCalls(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("providers lost-calls", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	resolve := flags.Int64("resolve", 0, "the id of a lost call to mark reconciled")
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		return errors.New(lostCallsUsage)
	}
	db, err := cfg.openDatabase(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db)

	if *resolve != 0 {
		c, err := st.ReconcileProviderCall(ctx, *resolve)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no lost call %d: unknown, not lost, or reconciled already", *resolve)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "call %d (%s %s, attempt %d, check %s) marked reconciled\n",
			c.ID, c.Provider, c.Operation, c.Attempt, c.CheckID)
		return nil
	}

	calls, err := st.LostProviderCalls(ctx)
	if err != nil {
		return err
	}
	if len(calls) == 0 {
		fmt.Fprintln(stdout, "no lost provider calls")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCHECK\tSCREENING\tPROVIDER\tOPERATION\tATTEMPT\tSTARTED_AT\tLATE_ANSWER")
	for _, c := range calls {
		// A late answer names what the provider created: the record to remove.
		late := "-"
		if c.Result != nil {
			late = *c.Result
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.ID, c.CheckID, c.ScreeningID, c.Provider, c.Operation,
			c.Attempt, c.StartedAt.UTC().Format(time.RFC3339), late)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d lost call(s): each may have left a record for the candidate at the provider. "+
		"Have it removed there, then run: screenflow providers lost-calls --resolve ID\n", len(calls))
	return nil
}
