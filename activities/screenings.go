// Package activities holds the Temporal activities: small, idempotent steps that touch Postgres
// and the providers' APIs. Workflows call them with ids only; PII is read here, never returned.
package activities

import (
	"context"
	"time"

	"github.com/screenflow/screenflow/store"
)

// Screenings writes the screening projections the HR API reads.
type Screenings struct {
	Store *store.Store
}

// ScreeningStatusInput moves a screening to a new status and says why in its timeline.
type ScreeningStatusInput struct {
	ScreeningID string
	Status      store.Status
	Result      string // set with a terminal status
	Timeline    TimelineInput
}

// TimelineInput is a timeline entry as a workflow describes it. DedupeKey makes a retried
// activity write it once.
type TimelineInput struct {
	DedupeKey  string
	Kind       string
	Detail     string
	OccurredAt time.Time
	// Replaces: the entry says more than one the relay may have written under its key (a
	// store.EventNote) and takes its place; otherwise the first entry under a key stays.
	Replaces bool `json:",omitempty"`
}

func (t TimelineInput) entry(screeningID string) store.TimelineEntry {
	return store.TimelineEntry{ScreeningID: screeningID, DedupeKey: t.DedupeKey, Kind: t.Kind,
		Detail: t.Detail, OccurredAt: t.OccurredAt}
}

// BeginScreening marks the screening in progress; false means it was canceled before its
// workflow ran.
func (a *Screenings) BeginScreening(ctx context.Context, screeningID string) (bool, error) {
	return a.Store.BeginScreening(ctx, screeningID)
}

// SetScreeningStatus writes the screening's status and its timeline entry.
func (a *Screenings) SetScreeningStatus(ctx context.Context, in ScreeningStatusInput) error {
	var result *string
	if in.Result != "" {
		result = &in.Result
	}
	return a.Store.SetScreeningConclusion(ctx, in.ScreeningID, in.Status, result, in.Timeline.entry(in.ScreeningID))
}

// CheckUpdateInput is a change of a check's state.
type CheckUpdateInput struct {
	CheckID       string
	Status        store.Status
	Outcome       string
	FailureReason string
	Timeline      TimelineInput
}

// UpdateCheck writes a check's state with its timeline entry.
func (a *Screenings) UpdateCheck(ctx context.Context, in CheckUpdateInput) error {
	u := store.CheckUpdate{CheckID: in.CheckID, Status: in.Status, Timeline: in.Timeline.entry("")}
	if in.Outcome != "" {
		u.Outcome = &in.Outcome
	}
	if in.FailureReason != "" {
		u.FailureReason = &in.FailureReason
	}
	return a.Store.UpdateCheck(ctx, u)
}

// CheckEventInput is a provider event a check workflow accepted, for the timeline.
type CheckEventInput struct {
	ScreeningID string
	CheckID     string
	Timeline    TimelineInput
}

// RecordCheckEvent adds a provider event to the screening's timeline.
func (a *Screenings) RecordCheckEvent(ctx context.Context, in CheckEventInput) error {
	e := in.Timeline.entry(in.ScreeningID)
	e.CheckID = &in.CheckID
	if in.Timeline.Replaces {
		return a.Store.ReplaceTimeline(ctx, e)
	}
	return a.Store.AppendTimeline(ctx, e)
}

// ScreeningResultInput names a screening whose result is derived again because one of its checks
// was amended.
type ScreeningResultInput struct {
	ScreeningID string
	Reason      string // ends the timeline entry
	DedupeKey   string
}

// RederiveScreeningResult derives a completed screening's result again from its checks' outcomes,
// after a provider amended one. While the screening runs it fails with ErrTypeNotReady, so that its
// retry policy waits: the screening concludes on the outcomes its checks returned, and only after
// that can an amended outcome be taken into its result.
func (a *Screenings) RederiveScreeningResult(ctx context.Context, in ScreeningResultInput) error {
	running, err := a.Store.RederiveScreeningResult(ctx, in.ScreeningID, in.Reason, in.DedupeKey)
	if err != nil {
		return err
	}
	if running {
		return notReady("the screening has not ended yet")
	}
	return nil
}
