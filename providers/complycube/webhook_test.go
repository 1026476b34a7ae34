package complycube

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleEvent is the sample event object of ComplyCube's webhook documentation.
const sampleEvent = `{
  "id": "5ed170fe99c81a0007b9a3d3",
  "type": "check.completed.clear",
  "resourceType": "check",
  "payload": {
    "id": "5ed3918fbf06f30008e552c9",
    "outcome": "clear",
    "status": "complete",
    "createdAt": "2020-01-01T11:14:23.964Z",
    "updatedAt": "2020-01-01T11:14:23.964Z"
  },
  "createdAt": "2020-01-01T11:14:23.964Z"
}`

func TestSign(t *testing.T) {
	body := []byte(sampleEvent)
	h := hmac.New(sha256.New, []byte("whsec"))
	h.Write(body)
	want := hex.EncodeToString(h.Sum(nil))

	got := Sign("whsec", body)
	assert.Equal(t, want, got)
	assert.Equal(t, strings.ToLower(got), got)
	assert.Len(t, got, 64)
}

func TestVerifySignature(t *testing.T) {
	body := []byte(sampleEvent)
	sig := Sign("whsec", body)

	tests := []struct {
		name      string
		secret    string
		body      []byte
		signature string
		want      bool
	}{
		{"round trip", "whsec", body, sig, true},
		{"upper-case hex", "whsec", body, strings.ToUpper(sig), true},
		{"wrong secret", "other", body, sig, false},
		{"tampered body", "whsec", []byte(strings.Replace(sampleEvent, "clear", "rejected", 1)), sig, false},
		{"not hex", "whsec", body, "zz" + sig[2:], false},
		{"truncated", "whsec", body, sig[:62], false},
		{"empty signature", "whsec", body, "", false},
		{"empty secret", "", body, Sign("", body), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, VerifySignature(tt.secret, tt.body, tt.signature))
		})
	}
}

func TestParseEventSample(t *testing.T) {
	e, err := ParseEvent([]byte(sampleEvent))
	require.NoError(t, err)

	at := time.Date(2020, 1, 1, 11, 14, 23, 964_000_000, time.UTC)
	assert.Equal(t, "5ed170fe99c81a0007b9a3d3", e.ID)
	assert.Equal(t, "check.completed.clear", e.Type)
	assert.Equal(t, "check", e.ResourceType)
	assert.True(t, e.CreatedAt.Equal(at))
	assert.JSONEq(t, `{"id":"5ed3918fbf06f30008e552c9","outcome":"clear","status":"complete",
		"createdAt":"2020-01-01T11:14:23.964Z","updatedAt":"2020-01-01T11:14:23.964Z"}`, string(e.Payload))

	assert.Equal(t, "check:5ed3918fbf06f30008e552c9", e.Subject())
	assert.Equal(t, SubjectFor("check", "5ed3918fbf06f30008e552c9"), e.Subject())

	s := e.Summary()
	assert.Equal(t, Summary{
		EventID:      "5ed170fe99c81a0007b9a3d3",
		Type:         "check.completed.clear",
		ResourceType: "check",
		ResourceID:   "5ed3918fbf06f30008e552c9",
		Status:       "complete",
		Outcome:      "clear",
		OccurredAt:   s.OccurredAt,
	}, s)
	assert.True(t, s.OccurredAt.Equal(at))
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"not JSON", `id=1&type=check.pending`, "body is not a JSON object: "},
		{"array", `[{"id":"1","type":"check.pending"}]`, "body is not a JSON object: "},
		{"string", `"check.pending"`, "body is not a JSON object: "},
		{"null", `null`, "body is not a JSON object: null"},
		{"empty", ``, "body is not a JSON object: "},
		{"missing id", `{"type":"check.pending","payload":{"id":"c1"}}`, `event has no "id"`},
		{"empty id", `{"id":"","type":"check.pending"}`, `event has no "id"`},
		{"missing type", `{"id":"e1","payload":{"id":"c1"}}`, `event has no "type"`},
		{"empty type", `{"id":"e1","type":""}`, `event has no "type"`},
		{"id not a string", `{"id":7,"type":"check.pending"}`, "decode event: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseEventLenient(t *testing.T) {
	t.Run("unknown type", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e1","type":"workflow.session.teleported","resourceType":"workflowSession","payload":{"id":"w1"}}`))
		require.NoError(t, err)
		assert.Equal(t, "workflow.session.teleported", e.Type)
		assert.Equal(t, "workflowSession:w1", e.Subject())
	})
	t.Run("no createdAt", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e1","type":"check.pending","payload":{"id":"c1"}}`))
		require.NoError(t, err)
		assert.True(t, e.CreatedAt.IsZero())
		assert.True(t, e.Summary().OccurredAt.IsZero())
	})
}

func TestSubject(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"resource type given", `{"id":"e","type":"check.pending","resourceType":"check","payload":{"id":"c1"}}`, "check:c1"},
		{"derived from type", `{"id":"e","type":"check.completed.clear","payload":{"id":"c1"}}`, "check:c1"},
		{"client", `{"id":"e","type":"client.created","resourceType":"client","payload":{"id":"abc"}}`, "client:abc"},
		{"no payload", `{"id":"e","type":"check.pending","resourceType":"check"}`, ""},
		{"payload without id", `{"id":"e","type":"check.pending","resourceType":"check","payload":{"status":"pending"}}`, ""},
		{"payload id not a string", `{"id":"e","type":"check.pending","payload":{"id":5}}`, ""},
		{"payload not an object", `{"id":"e","type":"check.pending","payload":"c1"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.Subject())
		})
	}
}

func TestSummaryOfClientEventHasNoPII(t *testing.T) {
	body := `{
	  "id": "ev1", "type": "client.created", "resourceType": "client",
	  "payload": {
	    "id": "5eb04fcd0f3e360008035eb1", "type": "person", "email": "john.doe@example.com",
	    "mobile": "+12 345678910",
	    "personDetails": {"firstName": "John", "lastName": "Doe", "dob": "1990-01-01", "nationality": "GB"},
	    "createdAt": "2020-01-04T17:24:29.146Z", "updatedAt": "2020-01-04T17:25:00.000Z"
	  },
	  "createdAt": "2020-01-04T17:24:30.000Z"
	}`
	e, err := ParseEvent([]byte(body))
	require.NoError(t, err)

	s := e.Summary()
	assert.Equal(t, "client", s.ResourceType)
	assert.Equal(t, "5eb04fcd0f3e360008035eb1", s.ResourceID)
	assert.Empty(t, s.Status)
	assert.Empty(t, s.Outcome)
	assert.True(t, s.OccurredAt.Equal(time.Date(2020, 1, 4, 17, 25, 0, 0, time.UTC)), "updatedAt wins")

	dump := strings.ToLower(fmtSummary(s))
	for _, pii := range []string{"john", "doe", "example.com", "1990", "345678910", "gb"} {
		assert.NotContains(t, dump, pii)
	}
}

func fmtSummary(s Summary) string {
	return strings.Join([]string{s.EventID, s.Type, s.ResourceType, s.ResourceID, s.Status, s.Outcome, s.OccurredAt.String()}, "|")
}

func TestSummaryFallbacks(t *testing.T) {
	t.Run("outcome from result and createdAt when no updatedAt", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e","type":"check.updated","payload":{"id":"c1","status":"complete",
			"result":{"outcome":"attention"},"createdAt":"2021-05-06T07:08:09.010Z"},"createdAt":"2021-05-06T08:00:00Z"}`))
		require.NoError(t, err)
		s := e.Summary()
		assert.Equal(t, "check", s.ResourceType)
		assert.Equal(t, "attention", s.Outcome)
		assert.True(t, s.OccurredAt.Equal(time.Date(2021, 5, 6, 7, 8, 9, 10_000_000, time.UTC)))
	})
	t.Run("event createdAt when the payload has no time", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e","type":"check.pending","payload":{"id":"c1","updatedAt":"yesterday"},"createdAt":"2021-05-06T08:00:00Z"}`))
		require.NoError(t, err)
		assert.True(t, e.Summary().OccurredAt.Equal(time.Date(2021, 5, 6, 8, 0, 0, 0, time.UTC)))
	})
	t.Run("fields of another type are skipped, not fatal", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e","type":"check.updated","payload":{"id":"c1","status":{"x":1},"outcome":"clear"}}`))
		require.NoError(t, err)
		s := e.Summary()
		assert.Equal(t, "c1", s.ResourceID)
		assert.Empty(t, s.Status)
		assert.Equal(t, "clear", s.Outcome)
	})
}

func TestIsCheckCompletion(t *testing.T) {
	for typ, want := range map[string]bool{
		"check.completed":                 true,
		"check.completed.clear":           true,
		"check.completed.attention":       true,
		"check.completed.rejected":        true,
		"check.completed.match_confirmed": true,
		"check.monitoring.attention":      false,
		"check.completedx":                false,
		"check.pending":                   false,
		"check.failed":                    false,
		"check.updated":                   false,
		"workflow.session.completed":      false,
		"":                                false,
	} {
		assert.Equal(t, want, IsCheckCompletion(typ), typ)
	}
}

// TestParseEventReadsTimestampsLeniently: an authentic event is never refused for the shape of its
// dates. Before, a createdAt that was not RFC 3339 failed the whole event.
func TestParseEventReadsTimestampsLeniently(t *testing.T) {
	at := time.Date(2020, 1, 1, 11, 14, 23, 0, time.UTC)
	atMillis := at.Add(964 * time.Millisecond)
	tests := []struct {
		name      string
		createdAt string // as it appears in the JSON body
		want      time.Time
	}{
		{"RFC 3339 with fraction", `"2020-01-01T11:14:23.964Z"`, atMillis},
		{"RFC 3339 without fraction", `"2020-01-01T11:14:23Z"`, at},
		{"RFC 3339 with an offset", `"2020-01-01T12:14:23+01:00"`, at},
		{"space-separated", `"2020-01-01 11:14:23"`, at},
		{"space-separated with fraction and zone", `"2020-01-01 11:14:23.964Z"`, atMillis},
		{"no zone", `"2020-01-01T11:14:23"`, at},
		{"epoch seconds", `1577877263`, at},
		{"epoch seconds as a string", `"1577877263"`, at},
		{"epoch seconds with a fraction", `1577877263.5`, at.Add(500 * time.Millisecond)},
		{"epoch milliseconds", `1577877263964`, atMillis},
		{"epoch milliseconds as a string", `"1577877263964"`, atMillis},
		{"empty string", `""`, time.Time{}},
		{"null", `null`, time.Time{}},
		{"zero", `0`, time.Time{}},
		{"negative", `-5`, time.Time{}},
		{"words", `"yesterday"`, time.Time{}},
		{"a boolean", `true`, time.Time{}},
		{"an object", `{"at":"2020-01-01"}`, time.Time{}},
		{"too large", `99999999999999999`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"e1","type":"check.completed.clear","resourceType":"check",
				"payload":{"id":"c1","status":"complete","outcome":"clear"},"createdAt":` + tt.createdAt + `}`
			e, err := ParseEvent([]byte(body))
			require.NoError(t, err)
			assert.True(t, e.CreatedAt.Equal(tt.want), "got %v", e.CreatedAt)
			assert.Equal(t, time.UTC, e.CreatedAt.Location())
			assert.Equal(t, "check:c1", e.Subject())
			assert.True(t, e.Summary().OccurredAt.Equal(tt.want), "the event's time stands when the payload has none")

			// The payload's times are read the same way.
			body = `{"id":"e1","type":"check.updated","payload":{"id":"c1","status":"complete","updatedAt":` + tt.createdAt + `}}`
			e, err = ParseEvent([]byte(body))
			require.NoError(t, err)
			assert.True(t, e.Summary().OccurredAt.Equal(tt.want), "got %v", e.Summary().OccurredAt)
			assert.Equal(t, "complete", e.Summary().Status, "an odd time does not hide the other fields")
		})
	}
	t.Run("payload createdAt when updatedAt cannot be read", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e1","type":"check.updated","payload":{"id":"c1","updatedAt":"","createdAt":1577877263}}`))
		require.NoError(t, err)
		assert.True(t, e.Summary().OccurredAt.Equal(at))
	})
}

func TestParseSecrets(t *testing.T) {
	assert.Equal(t, []string{"new", "old"}, ParseSecrets("new,old"))
	assert.Equal(t, []string{"new", "old"}, ParseSecrets(" new , ,old, "))
	assert.Equal(t, []string{"only"}, ParseSecrets("only"))
	assert.Empty(t, ParseSecrets(""))
	assert.Empty(t, ParseSecrets(" , "))
}

func TestVerifySignatureAny(t *testing.T) {
	body := []byte(sampleEvent)
	secrets := []string{"new", "old"}
	assert.True(t, VerifySignatureAny(secrets, body, Sign("new", body)))
	assert.True(t, VerifySignatureAny(secrets, body, Sign("old", body)), "events signed before the rotation still verify")
	assert.False(t, VerifySignatureAny(secrets, body, Sign("other", body)))
	assert.False(t, VerifySignatureAny(secrets, []byte(`{}`), Sign("new", body)))
	assert.False(t, VerifySignatureAny(secrets, body, ""))
	assert.False(t, VerifySignatureAny(nil, body, Sign("", body)), "no secret verifies nothing")
	assert.False(t, VerifySignatureAny([]string{""}, body, Sign("", body)), "an empty secret verifies nothing")
}
