package authenticate_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/authenticate"
)

// sampleDate is the eventDate of the documentation's samples.
var sampleDate = time.Date(2020, 12, 7, 19, 18, 32, 76_000_000, time.UTC)

// The payload samples of Authenticate's webhook documentation (seeds/authenticate-webhook-*.txt),
// with "string" placeholders given values. The documentation's USER_PII_UPDATE sample has a
// trailing comma after userAccessCode, which is not JSON; it is left out here (see
// TestParseEventErrors).
const (
	samplePIIUpdate = `{
		"id": "ev-pii", "event": "USER_PII_UPDATE", "eventDate": "2020-12-07T19:18:32.076Z",
		"order": {"userAccessCode": "uac-1"}
	}`
	sampleReviewFmt = `{
		"id": "ev-review", "event": %q, "eventDate": "2020-12-07T19:18:32.076Z",
		"order": {"userAccessCode": "uac-1", "status": "PASSED", "verificationMethod": "UPLOAD_ID"}
	}`
	sampleSearchFmt = `{
		"id": "ev-search", "event": %q, "eventDate": "2020-12-07T19:18:32.076Z",
		"order": {
			"userAccessCode": "uac-1",
			"orderDetails": {
				"unique_identifier": "search-1", "search_type": %q,
				"search_status": "COMPLETE", "search_sub_status": "CLEAR"
			}
		}
	}`
	sampleAllComplete = `{
		"id": "ev-all", "event": "ALL_CRIMINAL_REQUESTS_COMPLETE", "eventDate": "2020-12-07T19:18:32.076Z",
		"order": {"userAccessCode": "uac-1"}
	}`
	samplePDF = `{
		"id": "ev-pdf", "event": "USER_PDF_REPORT_GENERATION", "eventDate": "2020-12-07T19:18:32.076Z",
		"order": {
			"userAccessCode": "uac-1", "status": "COMPLETED", "reportUUID": "rep-1",
			"reportLink": "https://reports.example.com/rep-1?token=s3cret",
			"expires": "2020-12-07T19:28:32.076Z"
		}
	}`
)

func TestParseEventSamples(t *testing.T) {
	search := func(typ string) *authenticate.Search {
		return &authenticate.Search{UniqueIdentifier: "search-1", SearchType: typ, SearchStatus: "COMPLETE", SearchSubStatus: "CLEAR"}
	}
	expires := time.Date(2020, 12, 7, 19, 28, 32, 76_000_000, time.UTC)
	review := authenticate.Order{UserAccessCode: "uac-1", Status: "PASSED", VerificationMethod: "UPLOAD_ID"}
	tests := []struct {
		name  string
		body  string
		id    string
		order authenticate.Order
	}{
		{"user PII update", samplePIIUpdate, "ev-pii", authenticate.Order{UserAccessCode: "uac-1"}},
		{"self verification", fmt.Sprintf(sampleReviewFmt, authenticate.EventSelfVerificationTryStatus), "ev-review", review},
		{"ID review", fmt.Sprintf(sampleReviewFmt, authenticate.EventUploadIDReview), "ev-review", review},
		{"passport review", fmt.Sprintf(sampleReviewFmt, authenticate.EventUploadPassportReview), "ev-review", review},
		{"criminal update", fmt.Sprintf(sampleSearchFmt, authenticate.EventCriminalStatusUpdate, "COUNTY_CRIMINAL"), "ev-search",
			authenticate.Order{UserAccessCode: "uac-1", OrderDetails: search("COUNTY_CRIMINAL")}},
		{"sex offender update", fmt.Sprintf(sampleSearchFmt, authenticate.EventSexOffenderStatusUpdate, "SEX_OFFENDER"), "ev-search",
			authenticate.Order{UserAccessCode: "uac-1", OrderDetails: search("SEX_OFFENDER")}},
		{"all criminal complete", sampleAllComplete, "ev-all", authenticate.Order{UserAccessCode: "uac-1"}},
		{"PDF report", samplePDF, "ev-pdf", authenticate.Order{UserAccessCode: "uac-1", Status: "COMPLETED", ReportUUID: "rep-1",
			ReportLink: "https://reports.example.com/rep-1?token=s3cret", Expires: &expires}},
		// No sample is documented for monitoring; the envelope is the same for every event.
		{"monitoring record found", `{"id":"ev-mon","event":"MONITORING_RECORD_FOUND","eventDate":"2020-12-07T19:18:32.076Z",
			"order":{"userAccessCode":"uac-1"}}`, "ev-mon", authenticate.Order{UserAccessCode: "uac-1"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := authenticate.ParseEvent([]byte(tt.body))
			require.NoError(t, err)
			seen[e.Event] = true
			assert.Equal(t, tt.id, e.ID)
			assert.True(t, e.EventDate.Equal(sampleDate))
			assert.Equal(t, tt.order.Expires != nil, e.Order.Expires != nil)
			if tt.order.Expires != nil {
				assert.True(t, e.Order.Expires.Equal(*tt.order.Expires))
				tt.order.Expires = e.Order.Expires
			}
			assert.Equal(t, tt.order, e.Order)
			assert.Equal(t, "user:uac-1", e.Subject())
			assert.Equal(t, authenticate.SubjectFor("uac-1"), e.Subject())
		})
	}
	assert.Len(t, seen, 9, "every event type")
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"not JSON", `id=1&event=USER_PII_UPDATE`, "body is not a JSON object: "},
		{"array", `[{"id":"1","event":"USER_PII_UPDATE"}]`, "body is not a JSON object: "},
		{"string", `"USER_PII_UPDATE"`, "body is not a JSON object: "},
		{"null", `null`, "body is not a JSON object: null"},
		{"empty", ``, "body is not a JSON object: "},
		{"the docs' USER_PII_UPDATE sample, trailing comma and all",
			`{"id":"string","event":"USER_PII_UPDATE","eventDate":"2020-12-07T19:18:32.076Z","order":{"userAccessCode":"string",}}`,
			"body is not a JSON object: "},
		{"missing id", `{"event":"USER_PII_UPDATE","order":{"userAccessCode":"u"}}`, `event has no "id"`},
		{"empty id", `{"id":"","event":"USER_PII_UPDATE","order":{"userAccessCode":"u"}}`, `event has no "id"`},
		{"missing event", `{"id":"e1","order":{"userAccessCode":"u"}}`, `event has no "event"`},
		{"empty event", `{"id":"e1","event":"","order":{"userAccessCode":"u"}}`, `event has no "event"`},
		{"missing order", `{"id":"e1","event":"USER_PII_UPDATE"}`, `event has no "order.userAccessCode"`},
		{"null order", `{"id":"e1","event":"USER_PII_UPDATE","order":null}`, `event has no "order.userAccessCode"`},
		{"missing userAccessCode", `{"id":"e1","event":"USER_PII_UPDATE","order":{"status":"x"}}`, `event has no "order.userAccessCode"`},
		{"empty userAccessCode", `{"id":"e1","event":"USER_PII_UPDATE","order":{"userAccessCode":""}}`, `event has no "order.userAccessCode"`},
		{"id not a string", `{"id":7,"event":"USER_PII_UPDATE","order":{"userAccessCode":"u"}}`, "decode event: "},
		{"order not an object", `{"id":"e1","event":"USER_PII_UPDATE","order":"u"}`, "decode event: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authenticate.ParseEvent([]byte(tt.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "authenticate: "))
		})
	}
}

func TestParseEventLenient(t *testing.T) {
	t.Run("unknown type", func(t *testing.T) {
		e, err := authenticate.ParseEvent([]byte(`{"id":"e1","event":"USER_TELEPORTED","order":{"userAccessCode":"u","where":"Mars"}}`))
		require.NoError(t, err)
		assert.Equal(t, "USER_TELEPORTED", e.Event)
		assert.Equal(t, "user:u", e.Subject())
	})
	t.Run("dates in another format are left zero", func(t *testing.T) {
		e, err := authenticate.ParseEvent([]byte(`{"id":"e1","event":"USER_PDF_REPORT_GENERATION","eventDate":"07/12/2020 19:18",
			"order":{"userAccessCode":"u","status":"COMPLETED","expires":1607368712}}`))
		require.NoError(t, err)
		assert.True(t, e.EventDate.IsZero())
		assert.Nil(t, e.Order.Expires)
		assert.Equal(t, "COMPLETED", e.Order.Status)
	})
	t.Run("no eventDate", func(t *testing.T) {
		e, err := authenticate.ParseEvent([]byte(`{"id":"e1","event":"USER_PII_UPDATE","order":{"userAccessCode":"u"}}`))
		require.NoError(t, err)
		assert.True(t, e.EventDate.IsZero())
		assert.True(t, e.Summary().OccurredAt.IsZero())
	})
}

func TestSummary(t *testing.T) {
	t.Run("PDF report: no link", func(t *testing.T) {
		e, err := authenticate.ParseEvent([]byte(samplePDF))
		require.NoError(t, err)
		s := e.Summary()
		assert.Equal(t, authenticate.Summary{
			EventID:    authenticate.BodyKey([]byte(samplePDF)),
			Type:       authenticate.EventPDFReportGeneration,
			OccurredAt: e.EventDate,
			Status:     authenticate.PDFCompleted,
			ReportUUID: "rep-1",
			Expires:    *e.Order.Expires,
		}, s)
		dump := fmt.Sprintf("%+v", s)
		assert.NotContains(t, dump, "s3cret")
		assert.NotContains(t, dump, "reports.example.com")
	})

	t.Run("search update", func(t *testing.T) {
		e, err := authenticate.ParseEvent([]byte(fmt.Sprintf(sampleSearchFmt, authenticate.EventCriminalStatusUpdate, "FEDERAL_CRIMINAL")))
		require.NoError(t, err)
		s := e.Summary()
		require.NotNil(t, s.Search)
		assert.Equal(t, *e.Order.OrderDetails, *s.Search)
		assert.True(t, s.OccurredAt.Equal(sampleDate))
		assert.True(t, s.Expires.IsZero())
		s.Search.SearchStatus = "CHANGED"
		assert.Equal(t, "COMPLETE", e.Order.OrderDetails.SearchStatus, "the summary does not alias the event")
	})

	t.Run("no PII", func(t *testing.T) {
		// Fields Authenticate could add to an order one day: they must not reach the summary.
		body := `{"id":"ev1","event":"USER_PII_UPDATE","eventDate":"2020-12-07T19:18:32.076Z",
			"order":{"userAccessCode":"uac-1","firstName":"John","lastName":"Doe","email":"john.doe@example.com",
			"dob":"01-01-1990","ssn":"123-45-6789","address":"1 Main Street","status":"UPDATED"}}`
		e, err := authenticate.ParseEvent([]byte(body))
		require.NoError(t, err)
		dump := strings.ToLower(fmt.Sprintf("%+v", e.Summary()))
		for _, pii := range []string{"john", "doe", "example.com", "1990", "6789", "main street"} {
			assert.NotContains(t, dump, pii)
		}
		assert.Equal(t, "UPDATED", e.Summary().Status)
	})
}

func TestTokenMatches(t *testing.T) {
	const token, previous = "k2V9dXqz7Yb1Qp0sLw4R", "Zr8mN3pQ5sT7vX9yB1dF"
	tests := []struct {
		name     string
		expected []string
		got      string
		want     bool
	}{
		{"same", []string{token}, token, true},
		{"different", []string{token}, "k2V9dXqz7Yb1Qp0sLw4S", false},
		{"prefix", []string{token}, token[:10], false},
		{"longer", []string{token}, token + "x", false},
		{"case differs", []string{token}, strings.ToUpper(token), false},
		{"empty got", []string{token}, "", false},
		{"rotation: the new token", []string{token, previous}, token, true},
		{"rotation: the old token", []string{token, previous}, previous, true},
		{"rotation: both at once", []string{token, previous}, token + "," + previous, false},
		{"rotation: neither", []string{token, previous}, "Zr8mN3pQ5sT7vX9yB1dG", false},
		{"no expected token", nil, "", false},
		{"empty expected", []string{""}, "", false},
		{"empty expected, any got", []string{""}, token, false},
		{"an empty one among others", []string{token, ""}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, authenticate.TokenMatches(tt.expected, tt.got))
		})
	}
}

func TestEventKeyIsTheBodysSHA256(t *testing.T) {
	// Authenticate's samples all show "id": "string": two different events may share an id.
	first := `{"id":"string","event":"CRIMINAL_REQUEST_STATUS_UPDATE","eventDate":"2020-12-07T19:18:32.076Z",` +
		`"order":{"userAccessCode":"u","orderDetails":{"unique_identifier":"s-1","search_status":"COMPLETE"}}}`
	second := strings.Replace(first, "s-1", "s-2", 1)
	a, err := authenticate.ParseEvent([]byte(first))
	require.NoError(t, err)
	b, err := authenticate.ParseEvent([]byte(second))
	require.NoError(t, err)
	again, err := authenticate.ParseEvent([]byte(first))
	require.NoError(t, err)

	assert.Equal(t, a.ID, b.ID)
	assert.NotEqual(t, a.Key, b.Key, "two events sharing an id keep keys of their own")
	assert.Equal(t, a.Key, again.Key, "a retry of the same bytes is a duplicate")
	sum := sha256.Sum256([]byte(first))
	assert.Equal(t, hex.EncodeToString(sum[:]), a.Key)
	assert.Equal(t, a.Key, authenticate.BodyKey([]byte(first)))
	assert.Equal(t, a.Key, a.Summary().EventID, "the workflow de-duplicates by the inbox's key")
	raw, err := json.Marshal(a)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), a.Key, "the key is not part of the event's JSON")
}

func TestIs(t *testing.T) {
	tests := []struct {
		status, want string
		is           bool
	}{
		{"COMPLETE", authenticate.SearchComplete, true},
		{"COMPLETED", authenticate.SearchComplete, true},
		{"complete", authenticate.SearchComplete, true},
		{" Completed ", authenticate.SearchComplete, true},
		{"COMPLETED", authenticate.PDFCompleted, true},
		{"COMPLETE", authenticate.PDFCompleted, true},
		{"completed", authenticate.PDFCompleted, true},
		{"FAILED", authenticate.PDFFailed, true},
		{"Failed", authenticate.PDFFailed, true},
		{"INITIATED", authenticate.PDFInitiated, true},
		{"clear", authenticate.SubStatusClear, true},
		{"Clear", authenticate.SubStatusClear, true},
		{"record found", authenticate.SubStatusRecordFound, true},
		{"record-found", authenticate.SubStatusRecordFound, true},
		{"in progress", authenticate.SearchInProgress, true},
		{"IN_PROGRESS", authenticate.SearchComplete, false},
		{"INCOMPLETE", authenticate.SearchComplete, false},
		{"COMPLETED_WITH_ERRORS", authenticate.PDFCompleted, false},
		{"", authenticate.SearchComplete, false},
		{"FAILED", authenticate.PDFCompleted, false},
		{"CLEAR", authenticate.SubStatusRecordFound, false},
		{"NOT_CLEAR", authenticate.SubStatusClear, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.is, authenticate.Is(tt.status, tt.want), "Is(%q, %q)", tt.status, tt.want)
	}
}
