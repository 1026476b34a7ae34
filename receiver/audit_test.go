package receiver_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/store"
)

// auditEvents lists the audit log as tenant key's holder sees it, failing on anything but 200.
func (h *apiHarness) auditEvents(t *testing.T, key, query string) (events []map[string]any, nextBefore any) {
	t.Helper()
	a := h.call(t, http.MethodGet, "/v1/audit-events"+query, key, "")
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	for _, e := range a.body["events"].([]any) {
		events = append(events, e.(map[string]any))
	}
	return events, a.body["next_before"]
}

func (h *apiHarness) auditEventCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, h.db.Get(&n, `SELECT count(*) FROM audit_events`))
	return n
}

func TestAuditEachReadAndDownloadIsRecordedOnceWithItsKey(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	doc := apiSaveReport(t, h, id, []byte("%PDF-1.7 report"))
	require.Zero(t, h.auditEventCount(t), "creating a screening is not a read")

	read := h.call(t, http.MethodGet, "/v1/screenings/"+id, h.keyA, "")
	require.Equal(t, http.StatusOK, read.status, string(read.raw))
	events, next := h.auditEvents(t, h.keyA, "")
	require.Len(t, events, 1)
	require.Nil(t, next)
	require.Equal(t, "screening.read", events[0]["action"])
	require.Equal(t, store.APIKeyID(h.keyA), events[0]["key_id"])
	require.Equal(t, id, events[0]["screening_id"])
	require.Nil(t, events[0]["document_id"])
	occurred, err := time.Parse(time.RFC3339Nano, events[0]["occurred_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), occurred, time.Minute)
	require.ElementsMatch(t, []string{"id", "action", "key_id", "screening_id", "document_id", "occurred_at"},
		slices.Collect(maps.Keys(events[0])))

	download := h.call(t, http.MethodGet, "/v1/screenings/"+id+"/documents/"+doc.ID, h.keyA, "")
	require.Equal(t, http.StatusOK, download.status)
	events, _ = h.auditEvents(t, h.keyA, "")
	require.Len(t, events, 2, "exactly one more")
	require.Equal(t, "document.downloaded", events[0]["action"], "newest first")
	require.Equal(t, store.APIKeyID(h.keyA), events[0]["key_id"])
	require.Equal(t, id, events[0]["screening_id"])
	require.Equal(t, doc.ID, events[0]["document_id"])
	require.Greater(t, events[0]["id"], events[1]["id"])

	upper := h.call(t, http.MethodGet, "/v1/screenings/"+strings.ToUpper(id)+"/documents/"+strings.ToUpper(doc.ID), h.keyA, "")
	require.Equal(t, http.StatusOK, upper.status)
	events, _ = h.auditEvents(t, h.keyA, "")
	require.Len(t, events, 3)
	require.Equal(t, id, events[0]["screening_id"], "ids are recorded in their canonical form")
	require.Equal(t, doc.ID, events[0]["document_id"])

	require.Equal(t, 3, h.auditEventCount(t), "listing the audit log is not itself recorded")
	ofB, next := h.auditEvents(t, h.keyB, "")
	require.Empty(t, ofB, "tenant B sees none of tenant A's events")
	require.Nil(t, next)
	ofB, _ = h.auditEvents(t, h.keyB, "?screening_id="+id)
	require.Empty(t, ofB, "not even by asking for tenant A's screening")

	logs := h.logs.String()
	require.NotContains(t, logs, h.keyA)
	require.NotContains(t, logs, "Lovelace")
}

func TestAuditReadsOfWhatIsNotTheTenantsRecordNothing(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	doc := apiSaveReport(t, h, id, []byte("%PDF-1.7 report"))

	for name, path := range map[string]string{
		"no such screening":        "/v1/screenings/" + uuid.NewString(),
		"malformed screening":      "/v1/screenings/not-a-uuid",
		"no such document":         "/v1/screenings/" + id + "/documents/" + uuid.NewString(),
		"document of no screening": "/v1/screenings/" + uuid.NewString() + "/documents/" + doc.ID,
	} {
		require.Equal(t, http.StatusNotFound, h.call(t, http.MethodGet, path, h.keyA, "").status, name)
	}
	for name, path := range map[string]string{
		"another tenant's screening": "/v1/screenings/" + id,
		"another tenant's document":  "/v1/screenings/" + id + "/documents/" + doc.ID,
	} {
		require.Equal(t, http.StatusNotFound, h.call(t, http.MethodGet, path, h.keyB, "").status, name)
	}
	require.Zero(t, h.auditEventCount(t))
}

func TestAuditReadFailsClosedWhenItCannotBeRecorded(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	content := []byte("%PDF-1.7 the report's bytes")
	doc := apiSaveReport(t, h, id, content)
	_, err := h.db.Exec(`ALTER TABLE audit_events RENAME TO audit_events_away`)
	require.NoError(t, err)

	for name, path := range map[string]string{
		"screening": "/v1/screenings/" + id,
		"document":  "/v1/screenings/" + id + "/documents/" + doc.ID,
	} {
		a := h.call(t, http.MethodGet, path, h.keyA, "")
		require.Equal(t, http.StatusServiceUnavailable, a.status, name)
		require.NotEmpty(t, a.header.Get("Retry-After"), name)
		require.Equal(t, "unavailable", a.body["error"], name)
		require.NotEmpty(t, a.body["message"], name)
		require.NotContains(t, string(a.raw), id, "%s: nothing of what was asked for is sent", name)
		require.NotContains(t, string(a.raw), string(content), name)
		require.NotEqual(t, doc.SHA256, a.header.Get("X-Content-SHA256"), name)
	}
	require.Contains(t, h.logs.String(), "audit event not recorded")

	_, err = h.db.Exec(`ALTER TABLE audit_events_away RENAME TO audit_events`)
	require.NoError(t, err)
	require.Zero(t, h.auditEventCount(t))
	require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/screenings/"+id, h.keyA, "").status,
		"reads work again once the audit log can be written")
	require.Equal(t, 1, h.auditEventCount(t))
}

func TestAuditEventsArePagedAndFiltered(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	first, second := h.create(t), h.create(t)
	for range 3 {
		require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/screenings/"+first, h.keyA, "").status)
		require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/screenings/"+second, h.keyA, "").status)
	}
	all, next := h.auditEvents(t, h.keyA, "")
	require.Len(t, all, 6)
	require.Nil(t, next)
	require.True(t, slices.IsSortedFunc(all, func(a, b map[string]any) int {
		return int(b["id"].(float64) - a["id"].(float64))
	}), "newest first")

	var paged []map[string]any
	query := "?limit=4"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 2, "two pages of at most 4 hold 6 events")
		page, next := h.auditEvents(t, h.keyA, query)
		require.LessOrEqual(t, len(page), 4)
		paged = append(paged, page...)
		if next == nil {
			break
		}
		require.Equal(t, page[len(page)-1]["id"], next)
		query = fmt.Sprintf("?limit=4&before=%.0f", next)
	}
	require.Equal(t, all, paged, "the pages hold every event once, in order")

	exact, next := h.auditEvents(t, h.keyA, "?limit=6")
	require.Len(t, exact, 6)
	require.Nil(t, next, "a page that ends with the last event has no next page")

	ofFirst, _ := h.auditEvents(t, h.keyA, "?screening_id="+strings.ToUpper(first))
	require.Len(t, ofFirst, 3)
	for _, e := range ofFirst {
		require.Equal(t, first, e["screening_id"])
	}
	page, next := h.auditEvents(t, h.keyA, "?screening_id="+first+"&limit=2")
	require.Len(t, page, 2)
	require.Equal(t, ofFirst[:2], page)
	page, next = h.auditEvents(t, h.keyA, fmt.Sprintf("?screening_id=%s&limit=2&before=%.0f", first, next))
	require.Equal(t, ofFirst[2:], page)
	require.Nil(t, next)

	none, _ := h.auditEvents(t, h.keyA, "?screening_id="+uuid.NewString())
	require.Empty(t, none)
}

func TestAuditEventsRejectBadParameters(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	for query, field := range map[string]string{
		"?limit=0":                     "limit",
		"?limit=-1":                    "limit",
		"?limit=1001":                  "limit",
		"?limit=ten":                   "limit",
		"?limit=":                      "limit",
		"?limit=1.5":                   "limit",
		"?before=0":                    "before",
		"?before=-3":                   "before",
		"?before=abc":                  "before",
		"?before=99999999999999999999": "before",
		"?screening_id=not-a-uuid":     "screening_id",
		"?screening_id=":               "screening_id",
	} {
		a := h.call(t, http.MethodGet, "/v1/audit-events"+query, h.keyA, "")
		require.Equal(t, http.StatusBadRequest, a.status, query)
		require.Equal(t, "invalid_query", a.body["error"], query)
		require.Equal(t, []string{field}, slices.Collect(maps.Keys(a.body["fields"].(map[string]any))), query)
		require.NotEmpty(t, a.body["message"], query)
	}
	a := h.call(t, http.MethodGet, "/v1/audit-events?limit=0&before=x&screening_id=y", h.keyA, "")
	require.Equal(t, http.StatusBadRequest, a.status)
	require.ElementsMatch(t, []string{"limit", "before", "screening_id"}, slices.Collect(maps.Keys(a.body["fields"].(map[string]any))),
		"every bad parameter is named at once")

	for _, query := range []string{"?limit=1", "?limit=1000", "?before=1", "?screening_id=" + uuid.NewString()} {
		require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/audit-events"+query, h.keyA, "").status, query)
	}
	require.Equal(t, http.StatusUnauthorized, h.call(t, http.MethodGet, "/v1/audit-events", "", "").status)
}
