package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
)

const candidateFindUsage = "usage: screenflow candidate find TENANT_ID REFERENCE"

// runCandidateFind answers an operator who has an HR platform's candidate reference (from a
// support ticket) and needs the candidate's workflows: Temporal holds our candidate ids only, since
// a reference may itself be personal data (an e-mail address, an employee number). It prints the
// tenant's screenings of candidates with that reference and the Temporal UI query that lists
// their workflows. The reference is found through its blind index and printed nowhere.
func runCandidateFind(ctx context.Context, cfg config, tenantID, reference string, stdout io.Writer) error {
	if _, err := uuid.Parse(tenantID); err != nil {
		return fmt.Errorf("%q is not a tenant id (the id `tenant create` printed): %s", tenantID, candidateFindUsage)
	}
	db, st, _, err := cfg.openSealedStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	screenings, err := st.ScreeningsByReference(ctx, tenantID, reference)
	if err != nil {
		return err
	}
	if len(screenings) == 0 {
		return errors.New("the tenant has no candidate with this reference (or it was erased)")
	}
	var candidates []string
	seen := map[string]bool{}
	fmt.Fprintf(stdout, "%-36s  %-36s  %-12s  %s\n", "SCREENING", "CANDIDATE", "STATUS", "CREATED")
	for _, s := range screenings {
		fmt.Fprintf(stdout, "%-36s  %-36s  %-12s  %s\n", s.ID, s.CandidateID, s.Status, s.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))
		if !seen[s.CandidateID] {
			seen[s.CandidateID] = true
			candidates = append(candidates, "'"+s.CandidateID+"'")
		}
	}
	fmt.Fprintf(stdout, "\nIn the Temporal UI (or `temporal workflow list --query`):\n  CandidateId IN (%s)\n",
		strings.Join(candidates, ", "))
	return nil
}
