package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func TestANoteIsWrittenWithItsDeliveryAndKeepsTheNewestSearch(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	_, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	checkID := checks[0].ID
	newer, older := storeEvent(t, st, "user:1"), storeEvent(t, st, "user:1")
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	note := func(key, status string, at time.Time) *store.EventNote {
		return &store.EventNote{ScreeningID: scr.ID, CheckID: checkID, DedupeKey: key, Kind: "provider.event",
			Detail: "COUNTY_CRIMINAL s1: " + status + "\x00", OccurredAt: at,
			Search: &store.Search{UniqueIdentifier: "s1", SearchType: "COUNTY_CRIMINAL", SearchStatus: status}}
	}
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	outcomes := []store.Outcome{
		{ID: newer, LeaseID: claimed[0].LeaseID, Status: store.InboxDelivered, Attempted: true,
			Note: note("authenticate:newer", "COMPLETE", t0.Add(time.Minute))},
		{ID: older, LeaseID: claimed[1].LeaseID, Status: store.InboxDelivered, Attempted: true,
			Note: note("authenticate:older", "IN_PROGRESS", t0)},
	}
	recorded, err := st.RecordOutcomes(ctx, outcomes)
	require.NoError(t, err)
	require.Equal(t, 2, recorded)
	// Recorded again, as a relay whose lease ran out would: nothing more is written.
	recorded, err = st.RecordOutcomes(ctx, outcomes)
	require.NoError(t, err)
	require.Zero(t, recorded)

	searches, err := st.Searches(ctx, checkID)
	require.NoError(t, err)
	require.Len(t, searches, 1)
	require.Equal(t, "COMPLETE", searches[0].SearchStatus, "an update older by the provider's time changes nothing")
	var entries []store.TimelineEntry
	require.NoError(t, db.Select(&entries, `SELECT dedupe_key, detail FROM timeline_entries WHERE check_id = $1
		ORDER BY dedupe_key`, checkID))
	require.Len(t, entries, 2)
	require.Equal(t, "COUNTY_CRIMINAL s1: COMPLETE", entries[0].Detail, "text Postgres would refuse is dropped")
	require.Equal(t, "COUNTY_CRIMINAL s1: IN_PROGRESS"+store.StaleSearchNote, entries[1].Detail)

	// A workflow that has more to say of an event replaces the relay's note, whichever came first.
	said := store.TimelineEntry{ScreeningID: scr.ID, CheckID: &checkID, DedupeKey: "authenticate:newer",
		Kind: "provider.event", Detail: "COUNTY_CRIMINAL s1: COMPLETE (and more)"}
	require.NoError(t, st.ReplaceTimeline(ctx, said))
	var detail string
	require.NoError(t, db.Get(&detail, `SELECT detail FROM timeline_entries WHERE check_id = $1 AND dedupe_key = $2`,
		checkID, said.DedupeKey))
	require.Equal(t, said.Detail, detail)
}

func TestANoteGoesOnlyWithADelivery(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	_, err := st.RecordOutcomes(context.Background(), []store.Outcome{{ID: 1, LeaseID: "00000000-0000-0000-0000-000000000000",
		Status: store.InboxDiscarded, Note: &store.EventNote{DedupeKey: "k"}}})
	require.ErrorContains(t, err, "with a note")
}

// TestNotesOfABatchKeepTheirOrderAndTheirText: the relay records up to hundreds of outcomes at
// once, their notes written together; the timeline must read as if each was written on its own.
func TestNotesOfABatchKeepTheirOrderAndTheirText(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	_, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	checkID := checks[0].ID
	var ids []int64
	for range 5 {
		ids = append(ids, storeEvent(t, st, "thing:batched"))
	}
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 5)
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC) // one time for all: the order decides
	note := func(key, detail string, search *store.Search) *store.EventNote {
		return &store.EventNote{ScreeningID: scr.ID, CheckID: checkID, DedupeKey: key, Kind: "provider.event",
			Detail: detail, OccurredAt: at, Search: search}
	}
	notes := []*store.EventNote{
		note("e:1", "first", nil),
		note("e:2", "second\x00", nil),
		note("e:3", "third, a search", &store.Search{UniqueIdentifier: "s1", SearchType: "COUNTY_CRIMINAL", SearchStatus: "COMPLETE"}),
		note("e:1", "the first again, under its key", nil),
		note("e:4", "fourth", nil),
	}
	outcomes := make([]store.Outcome, len(claimed))
	for i, c := range claimed {
		outcomes[i] = store.Outcome{ID: c.ID, LeaseID: c.LeaseID, Status: store.InboxDelivered, Attempted: true, Note: notes[i]}
	}
	require.Equal(t, ids, eventIDs(claimed))
	recorded, err := st.RecordOutcomes(ctx, outcomes)
	require.NoError(t, err)
	require.Equal(t, 5, recorded)

	var details []string
	require.NoError(t, db.Select(&details, `SELECT detail FROM timeline_entries WHERE check_id = $1 ORDER BY occurred_at, id`, checkID))
	require.Equal(t, []string{"first", "second", "third, a search", "fourth"}, details)
	searches, err := st.Searches(ctx, checkID)
	require.NoError(t, err)
	require.Len(t, searches, 1)
}
