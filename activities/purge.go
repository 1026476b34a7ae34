package activities

import (
	"context"
	"time"

	"github.com/screenflow/screenflow/store"
)

// Purge is what the scheduled purge (workflows.PurgeWorkflow) reads and empties in Postgres. Each
// step is a short statement that can run again: what it did before is not found again.
type Purge struct {
	Store *store.Store
}

// PurgeInboxBodiesInput says which delivered webhook bodies have been kept long enough.
type PurgeInboxBodiesInput struct {
	Retention time.Duration // INBOX_BODY_RETENTION
	BatchSize int
}

// PurgeInboxBodies empties the body and headers of webhook events finished longer ago than the
// retention, keeping their rows, and returns how many it emptied.
func (a *Purge) PurgeInboxBodies(ctx context.Context, in PurgeInboxBodiesInput) (int, error) {
	return a.Store.PurgeWebhookBodies(ctx, time.Now().Add(-in.Retention), in.BatchSize)
}

// ExpiredCandidatesInput asks for the next page of candidates whose retention has run out.
type ExpiredCandidatesInput struct {
	DefaultRetention time.Duration // SCREENING_RETENTION, for tenants without their own
	After            string        // the last candidate id of the previous page; "" for the first
	Limit            int
}

// ExpiredCandidates lists candidates, by id, whose screenings all finished longer ago than their
// tenant's retention and who are not erased yet: ids only, never their data.
func (a *Purge) ExpiredCandidates(ctx context.Context, in ExpiredCandidatesInput) ([]store.ExpiredCandidate, error) {
	return a.Store.ExpiredCandidates(ctx, in.DefaultRetention, in.After, in.Limit)
}
