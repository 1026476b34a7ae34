package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// rotationPasses bounds how often `keys rotate` goes over the tables. The first pass re-seals
// nearly everything; a later one takes the rows that were locked meanwhile, and finding still more
// means some process keeps sealing under another key, which another pass cannot fix.
const rotationPasses = 3

// runKeys runs `screenflow keys rotate [--batch N]`.
func runKeys(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	const usage = "usage: screenflow keys rotate [--batch N]"
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New(usage)
	}
	flags := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	batch := flags.Int("batch", 500, "rows re-sealed per transaction")
	if err := flags.Parse(args[1:]); err != nil || flags.NArg() != 0 || *batch <= 0 {
		return errors.New(usage)
	}
	db, st, v, err := cfg.openSealedStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	ids := v.KeyIDs()
	older := "none"
	if len(ids) > 1 {
		older = strings.Join(ids[1:], ", ")
	}
	fmt.Fprintf(stdout, "sealing under key %s (SCREENFLOW_ENCRYPTION_KEY); also opening: %s\n", ids[0], older)
	for pass := 1; pass <= rotationPasses; pass++ {
		n, err := st.ResealPass(ctx, *batch)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pass %d: re-sealed %d candidates, %d documents, %d Checkr tokens, %d webhook bodies, %d webhook endpoint secrets\n",
			pass, n.Candidates, n.Documents, n.CheckrTokens, n.InboxBodies, n.WebhookSecrets)
		if n.Total() == 0 {
			break
		}
	}
	left, err := st.NotUnderPrimaryKey(ctx)
	if err != nil {
		return err
	}
	if left.Total() > 0 {
		return fmt.Errorf("%d candidates, %d documents, %d Checkr tokens, %d webhook bodies and %d webhook endpoints' secrets "+
			"are still not sealed under key %s: "+
			"rows locked for long, or a serve or worker still sealing under another key; run every one with "+
			"the new SCREENFLOW_ENCRYPTION_KEY, then run keys rotate again",
			left.Candidates, left.Documents, left.CheckrTokens, left.InboxBodies, left.WebhookSecrets, ids[0])
	}
	// Temporal's histories are not re-encrypted: their payloads stay under the key that was primary
	// when they were written, and a worker replaying an open workflow needs it.
	fmt.Fprintf(stdout, "everything is sealed under key %s: SCREENFLOW_ENCRYPTION_OLD_KEYS can be emptied "+
		"once every workflow started before the rotation has closed (Temporal payloads stay under the key they were written with)\n", ids[0])
	return nil
}
