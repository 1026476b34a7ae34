package checkr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The samples of the seed shared/seeds/checkr-oauth-webhooks.md, as they are.
const (
	seedAccountCredentialed = `{
  "id":"57a10c5d4772615f58010000",
  "object":"event",
  "type":"account.credentialed",
  "created_at":"2016-08-02T21:10:53Z",
  "data":{
    "object":{
      "account":{
        "id":"credentialed integrated account id"
      }
    }
  },
  "account_id":"account id tied to your platform"
}`
	seedTokenDeauthorized = `{
  "id":"57a10deb4772616473010000",
  "object":"event",
  "type":"token.deauthorized",
  "created_at":"2016-08-02T21:17:31Z",
  "data":{
    "object":{
      "access_code":"dummy access token"
    }
  },
  "account_id":"5d78dfa52ea938723b2f2ba3"
}`
	seedReportCreated = `{
  "id":"57a1142c4772617d5c010000",
  "object":"event",
  "type":"report.created",
  "created_at":"2016-08-02T21:44:12Z",
  "data":{
    "object":{
      "id":"f4bda8bd0201d322e41301aa",
      "object":"report",
      "uri":"/v1/reports/f4bda8bd0201d322e41301aa",
      "status":"pending",
      "created_at":"2015-10-15T23:09:44Z",
      "completed_at":null,
      "upgraded_at":null,
      "turnaround_time":null,
      "due_time":"2014-01-19T11:28:31Z",
      "adjudication":"engaged",
      "package":"tasker_standard",
      "tags":[],
      "candidate_id":"3cd3d2bf54acfd7207caa276",
      "ssn_trace_id":null,
      "sex_offender_search_id":null,
      "terrorist_watchlist_search_id":null,
      "national_criminal_search_id":null,
      "state_criminal_search_ids":[],
      "federal_criminal_search_id":null,
      "federal_civil_search_id":null,
      "county_criminal_search_ids":[],
      "motor_vehicle_report_id":null,
      "personal_reference_verification_ids":[],
      "professional_reference_verification_ids":[],
      "document_ids":[]
    }
  },
  "account_id":"5d78dfa52ea938723b2f2ba3"
}`
)

// referenceAccountCredentialed is the shape of Checkr's OAuth reference integration: data.object
// is the account. Its top-level account_id is the partner's, as a partner application receives it
// (the reference integration's own samples show the integrated account there).
const referenceAccountCredentialed = `{
  "id": "1002d6bca6acdfcbb8442178",
  "object": "event",
  "type": "account.credentialed",
  "created_at": "2018-08-17T01:12:43Z",
  "webhook_url": "https://user:hook-password@notify.company.com/checkr",
  "data": {
    "object": {
      "id": "a13f4827d8711ddc75abc56c",
      "object": "account",
      "uri": "/v1/accounts/a13f4827d8711ddc75abc56c",
      "created_at": "2018-08-17T01:10:21Z",
      "completed_at": "2018-08-17T01:12:26Z"
    }
  },
  "account_id": "5d78dfa52ea938723b2f2ba3"
}`

// legacyTokenDeauthorized is the shape of Checkr's older OAuth reference: access_token, no
// account_id.
const legacyTokenDeauthorized = `{
  "id": "5612db68303137000a311000",
  "object": "event",
  "type": "token.deauthorized",
  "created_at": "2015-10-05T20:19:52Z",
  "data": {"object": {"access_token": "dummy access token"}}
}`

const candidateCreated = `{
  "id": "ev_cand_1", "object": "event", "type": "candidate.created",
  "created_at": "2024-03-04T05:06:07Z",
  "data": {"object": {
    "id": "e44aa283528e6fde7d542194", "object": "candidate", "uri": "/v1/candidates/e44aa283528e6fde7d542194",
    "email": "john.smith@gmail.com", "first_name": "John", "last_name": "Smith", "dob": "1970-01-22",
    "ssn": "XXX-XX-4645", "zipcode": "90401", "phone": "5555555555", "custom_id": "scr_123",
    "status": "something", "result": "odd", "report_ids": ["r1"], "document_ids": ["d1"],
    "created_at": "2024-03-04T05:06:07Z"
  }},
  "account_id": "acct_1"
}`

func TestSign(t *testing.T) {
	body := []byte(seedReportCreated)
	h := hmac.New(sha256.New, []byte("secret"))
	h.Write(body)
	want := hex.EncodeToString(h.Sum(nil))

	got := Sign("secret", body)
	assert.Equal(t, want, got)
	assert.Equal(t, strings.ToLower(got), got)
	assert.Len(t, got, 64)
	// RFC 4231 test case 2.
	assert.Equal(t, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		Sign("Jefe", []byte("what do ya want for nothing?")))
}

func TestVerifyAny(t *testing.T) {
	body := []byte(seedReportCreated)
	keys := []string{"client_secret", "api_key_1", "api_key_2"}

	tests := []struct {
		name      string
		keys      []string
		body      []byte
		signature string
		want      bool
	}{
		{"first key", keys, body, Sign("client_secret", body), true},
		{"second key", keys, body, Sign("api_key_1", body), true},
		{"last key", keys, body, Sign("api_key_2", body), true},
		{"upper-case hex", keys, body, strings.ToUpper(Sign("api_key_1", body)), true},
		{"wrong key", keys, body, Sign("other", body), false},
		{"tampered body", keys, []byte(strings.Replace(seedReportCreated, "pending", "complete", 1)), Sign("api_key_1", body), false},
		{"no keys", nil, body, Sign("api_key_1", body), false},
		{"empty key skipped", []string{"", "api_key_1"}, body, Sign("api_key_1", body), true},
		{"only empty keys", []string{"", ""}, body, Sign("", body), false},
		{"not hex", keys, body, "zz" + Sign("api_key_1", body)[2:], false},
		{"truncated", keys, body, Sign("api_key_1", body)[:62], false},
		{"too long", keys, body, Sign("api_key_1", body) + "00", false},
		{"prefixed", keys, body, "sha256=" + Sign("api_key_1", body), false},
		{"empty signature", keys, body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, VerifyAny(tt.keys, tt.body, tt.signature))
		})
	}
}

func TestTokenFingerprint(t *testing.T) {
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", TokenFingerprint("abc"))
	assert.Empty(t, TokenFingerprint(""), "no token, no fingerprint")
	assert.NotEqual(t, TokenFingerprint("a"), TokenFingerprint("b"))
}

func TestParseEventSeedSamples(t *testing.T) {
	t.Run("account.credentialed", func(t *testing.T) {
		e, err := ParseEvent([]byte(seedAccountCredentialed))
		require.NoError(t, err)
		assert.Equal(t, "57a10c5d4772615f58010000", e.ID)
		assert.Equal(t, "event", e.Object)
		assert.Equal(t, EventAccountCredentialed, e.Type)
		assert.True(t, e.CreatedAt.Equal(time.Date(2016, 8, 2, 21, 10, 53, 0, time.UTC)))
		assert.Equal(t, "account id tied to your platform", e.AccountID)
		assert.Equal(t, "credentialed integrated account id", e.CredentialedAccountID())
		assert.Equal(t, "account:credentialed integrated account id", e.Subject())
		assert.Empty(t, e.DeauthorizedTokenFingerprint())
		s := e.Summary()
		assert.Equal(t, "credentialed integrated account id", s.ObjectID)
		assert.Equal(t, KindAccount, s.ObjectType)
	})

	t.Run("token.deauthorized", func(t *testing.T) {
		e, err := ParseEvent([]byte(seedTokenDeauthorized))
		require.NoError(t, err)
		assert.Equal(t, EventTokenDeauthorized, e.Type)
		assert.Equal(t, "5d78dfa52ea938723b2f2ba3", e.AccountID, "the partner's account")
		fp := TokenFingerprint("dummy access token")
		assert.Equal(t, fp, e.DeauthorizedTokenFingerprint())
		assert.Equal(t, "token:"+fp, e.Subject())
		assert.Empty(t, e.CredentialedAccountID())

		s := e.Summary()
		assert.Equal(t, Summary{EventID: "57a10deb4772616473010000", Type: EventTokenDeauthorized, CreatedAt: s.CreatedAt}, s)
		assert.NotContains(t, fmt.Sprintf("%+v", s), "dummy access token")
	})

	t.Run("report.created", func(t *testing.T) {
		e, err := ParseEvent([]byte(seedReportCreated))
		require.NoError(t, err)
		assert.Equal(t, EventReportCreated, e.Type)
		assert.Equal(t, "candidate:3cd3d2bf54acfd7207caa276", e.Subject(), "a report routes by its candidate")
		assert.Equal(t, SubjectFor(KindCandidate, "3cd3d2bf54acfd7207caa276"), e.Subject())
		assert.Empty(t, e.CredentialedAccountID())
		assert.Equal(t, Summary{
			EventID:      "57a1142c4772617d5c010000",
			Type:         EventReportCreated,
			CreatedAt:    time.Date(2016, 8, 2, 21, 44, 12, 0, time.UTC),
			ObjectID:     "f4bda8bd0201d322e41301aa",
			ObjectType:   "report",
			Status:       ReportPending,
			Adjudication: AdjudicationEngaged,
			DocumentIDs:  []string{},
		}, e.Summary())
	})
}

func TestCredentialedAccountIDShapes(t *testing.T) {
	nested, err := ParseEvent([]byte(seedAccountCredentialed))
	require.NoError(t, err)
	reference, err := ParseEvent([]byte(referenceAccountCredentialed))
	require.NoError(t, err)

	assert.Equal(t, "credentialed integrated account id", nested.CredentialedAccountID(), "data.object.account.id, not account_id")
	assert.Equal(t, "a13f4827d8711ddc75abc56c", reference.CredentialedAccountID(), "data.object.id, not account_id")
	assert.Equal(t, "account:a13f4827d8711ddc75abc56c", reference.Subject())
	assert.Equal(t, "a13f4827d8711ddc75abc56c", reference.Summary().ObjectID)
	assert.Equal(t, KindAccount, reference.Summary().ObjectType)

	for _, tt := range []struct {
		name, body, want string
	}{
		{"account object", `{"id":"e","type":"account.credentialed","data":{"object":{"id":"acc1","object":"account"}},"account_id":"partner"}`, "acc1"},
		{"account object without account_id", `{"id":"e","type":"account.credentialed","data":{"object":{"id":"acc1","object":"account"}}}`, "acc1"},
		{"account object without id", `{"id":"e","type":"account.credentialed","data":{"object":{"object":"account"}},"account_id":"partner"}`, ""},
		{"nested", `{"id":"e","type":"account.credentialed","data":{"object":{"account":{"id":"acc2"}}},"account_id":"partner"}`, "acc2"},
		{"neither shape", `{"id":"e","type":"account.credentialed","data":{"object":{"id":"x"}},"account_id":"partner"}`, ""},
		{"no data", `{"id":"e","type":"account.credentialed","account_id":"partner"}`, ""},
		{"other type", `{"id":"e","type":"report.created","data":{"object":{"account":{"id":"acc3"}}}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.CredentialedAccountID())
		})
	}
}

func TestDeauthorizedTokenFingerprintShapes(t *testing.T) {
	legacy, err := ParseEvent([]byte(legacyTokenDeauthorized))
	require.NoError(t, err)
	assert.Equal(t, TokenFingerprint("dummy access token"), legacy.DeauthorizedTokenFingerprint(), "access_token of the older reference")

	for _, body := range []string{
		`{"id":"e","type":"token.deauthorized","data":{"object":{}}}`,
		`{"id":"e","type":"token.deauthorized","data":{"object":{"access_code":""}}}`,
		`{"id":"e","type":"token.deauthorized"}`,
	} {
		e, err := ParseEvent([]byte(body))
		require.NoError(t, err)
		assert.Empty(t, e.DeauthorizedTokenFingerprint(), body)
		assert.Empty(t, e.Subject(), body)
	}
	e, err := ParseEvent([]byte(`{"id":"e","type":"report.created","data":{"object":{"access_code":"x"}}}`))
	require.NoError(t, err)
	assert.Empty(t, e.DeauthorizedTokenFingerprint(), "only token.deauthorized")
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"not JSON", `id=1&type=report.created`, "body is not a JSON object: "},
		{"array", `[{"id":"1","type":"report.created"}]`, "body is not a JSON object: "},
		{"string", `"report.created"`, "body is not a JSON object: "},
		{"null", `null`, "body is not a JSON object: null"},
		{"empty", ``, "body is not a JSON object: "},
		{"missing id", `{"type":"report.created","data":{"object":{"id":"r1"}}}`, `event has no "id"`},
		{"empty id", `{"id":"","type":"report.created"}`, `event has no "id"`},
		{"missing type", `{"id":"e1","data":{"object":{"id":"r1"}}}`, `event has no "type"`},
		{"empty type", `{"id":"e1","type":""}`, `event has no "type"`},
		{"id not a string", `{"id":7,"type":"report.created"}`, "decode event: "},
		{"data not an object", `{"id":"e1","type":"report.created","data":"r1"}`, "decode event: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "checkr: "))
		})
	}
}

func TestParseEventLenient(t *testing.T) {
	t.Run("unknown type", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e1","type":"verification.teleported","data":{"object":{"id":"v1"}}}`))
		require.NoError(t, err)
		assert.Equal(t, "verification.teleported", e.Type)
		assert.Empty(t, e.Subject())
		assert.Equal(t, "v1", e.Summary().ObjectID)
	})
	t.Run("created_at in another format", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e1","type":"report.created","created_at":"02/08/2016","data":{"object":{"id":"r1"}}}`))
		require.NoError(t, err)
		assert.True(t, e.CreatedAt.IsZero())
		assert.Equal(t, "report:r1", e.Subject())
	})
	t.Run("fields of another type are skipped, not fatal", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"id":"e","type":"report.completed","data":{"object":{"id":"r1","status":{"x":1},"result":"clear","document_ids":"d1"}}}`))
		require.NoError(t, err)
		s := e.Summary()
		assert.Equal(t, "r1", s.ObjectID)
		assert.Empty(t, s.Status)
		assert.Equal(t, ResultClear, s.Result)
	})
	t.Run("webhook_url is not kept", func(t *testing.T) {
		e, err := ParseEvent([]byte(referenceAccountCredentialed))
		require.NoError(t, err)
		assert.NotContains(t, fmt.Sprintf("%+v", e), "hook-password", "it may embed Basic auth")
	})
}

func TestSubject(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"report", `{"id":"e","type":"report.completed","data":{"object":{"id":"r1","object":"report","candidate_id":"c1"}}}`, "candidate:c1"},
		{"report without its candidate", `{"id":"e","type":"report.completed","data":{"object":{"id":"r1","object":"report"}}}`, "report:r1"},
		{"report upgraded", `{"id":"e","type":"report.upgraded","data":{"object":{"id":"r1","candidate_id":"c1"}}}`, "candidate:c1"},
		{"report adverse action", `{"id":"e","type":"report.pre_adverse_action","data":{"object":{"id":"r1"}}}`, "report:r1"},
		{"invitation", `{"id":"e","type":"invitation.completed","data":{"object":{"id":"i1","report_id":"r1","candidate_id":"c1"}}}`, "candidate:c1"},
		{"invitation without its candidate", `{"id":"e","type":"invitation.completed","data":{"object":{"id":"i1","report_id":"r1"}}}`, "invitation:i1"},
		{"candidate", `{"id":"e","type":"candidate.id_required","data":{"object":{"id":"c1","email":"a@b.c"}}}`, "candidate:c1"},
		{"account", seedAccountCredentialed, "account:credentialed integrated account id"},
		{"token", seedTokenDeauthorized, "token:" + TokenFingerprint("dummy access token")},
		{"other family", `{"id":"e","type":"verification.created","data":{"object":{"id":"v1"}}}`, ""},
		{"other account event", `{"id":"e","type":"account.updated","data":{"object":{"id":"a1","object":"account"}}}`, ""},
		{"no data", `{"id":"e","type":"report.completed"}`, ""},
		{"object without id", `{"id":"e","type":"report.completed","data":{"object":{"status":"complete"}}}`, ""},
		{"id not a string", `{"id":"e","type":"report.completed","data":{"object":{"id":5}}}`, ""},
		{"object not an object", `{"id":"e","type":"report.completed","data":{"object":"r1"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.Subject())
		})
	}
}

func TestSummaryOfReportAndInvitation(t *testing.T) {
	e, err := ParseEvent([]byte(`{"id":"ev1","object":"event","type":"report.completed","created_at":"2024-01-02T03:04:05Z",
		"data":{"object":{"id":"r1","object":"report","status":"complete","result":"consider","assessment":"review",
		"adjudication":null,"package":"driver_pro","candidate_id":"c1","document_ids":["d1","d2"],"completed_at":"2024-01-02T03:04:00Z"}},
		"account_id":"a1"}`))
	require.NoError(t, err)
	assert.Equal(t, Summary{
		EventID:     "ev1",
		Type:        EventReportCompleted,
		CreatedAt:   time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		ObjectID:    "r1",
		ObjectType:  "report",
		Status:      ReportComplete,
		Result:      ResultConsider,
		Assessment:  AssessmentReview,
		DocumentIDs: []string{"d1", "d2"},
	}, e.Summary())

	e, err = ParseEvent([]byte(`{"id":"ev2","type":"invitation.completed","data":{"object":{"id":"i1","object":"invitation",
		"status":"completed","report_id":"r9","invitation_url":"https://apply.checkr.com/invite/secret","candidate_id":"c1"}}}`))
	require.NoError(t, err)
	s := e.Summary()
	assert.Equal(t, "i1", s.ObjectID)
	assert.Equal(t, "invitation", s.ObjectType)
	assert.Equal(t, InvitationCompleted, s.Status)
	assert.Equal(t, "r9", s.ReportID)
}

func TestSummaryOfCandidateEventHasNoPII(t *testing.T) {
	e, err := ParseEvent([]byte(candidateCreated))
	require.NoError(t, err)
	assert.Equal(t, "candidate:e44aa283528e6fde7d542194", e.Subject())

	s := e.Summary()
	assert.Equal(t, Summary{
		EventID:    "ev_cand_1",
		Type:       EventCandidateCreated,
		CreatedAt:  time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC),
		ObjectID:   "e44aa283528e6fde7d542194",
		ObjectType: "candidate",
	}, s)
	dump := strings.ToLower(fmt.Sprintf("%+v", s))
	for _, pii := range []string{"john", "smith", "gmail", "1970", "4645", "90401", "5555", "scr_123"} {
		assert.NotContains(t, dump, pii)
	}
}

func TestEventTypes(t *testing.T) {
	// Every type shared/providers.md lists.
	assert.ElementsMatch(t, []string{
		"account.credentialed", "token.deauthorized",
		"report.created", "report.updated", "report.completed", "report.upgraded", "report.suspended",
		"report.resumed", "report.canceled", "report.disputed", "report.engaged",
		"report.pre_adverse_action", "report.post_adverse_action",
		"invitation.created", "invitation.completed", "invitation.expired", "invitation.deleted",
		"candidate.created", "candidate.updated", "candidate.id_required", "candidate.driver_license_required",
	}, []string{
		EventAccountCredentialed, EventTokenDeauthorized,
		EventReportCreated, EventReportUpdated, EventReportCompleted, EventReportUpgraded, EventReportSuspended,
		EventReportResumed, EventReportCanceled, EventReportDisputed, EventReportEngaged,
		EventReportPreAdverseAction, EventReportPostAdverseAction,
		EventInvitationCreated, EventInvitationCompleted, EventInvitationExpired, EventInvitationDeleted,
		EventCandidateCreated, EventCandidateUpdated, EventCandidateIDRequired, EventCandidateDriverLicenseRequired,
	})
}

func TestScrubAccessCodeKeepsOnlyTheTokensFingerprint(t *testing.T) {
	for name, body := range map[string]string{"access_code": seedTokenDeauthorized, "access_token": legacyTokenDeauthorized} {
		t.Run(name, func(t *testing.T) {
			original, err := ParseEvent([]byte(body))
			require.NoError(t, err)

			scrubbed := ScrubAccessCode([]byte(body))
			assert.NotContains(t, string(scrubbed), "dummy access token")
			assert.NotContains(t, string(scrubbed), `"access_code"`)
			assert.NotContains(t, string(scrubbed), `"access_token"`)
			stored, err := ParseEvent(scrubbed)
			require.NoError(t, err, "the stored body is still an event: %s", scrubbed)
			assert.Equal(t, original.ID, stored.ID)
			assert.Equal(t, original.CreatedAt, stored.CreatedAt)
			assert.Equal(t, original.AccountID, stored.AccountID)
			assert.Equal(t, TokenFingerprint("dummy access token"), stored.DeauthorizedTokenFingerprint())
			assert.Equal(t, original.Subject(), stored.Subject())
			assert.Equal(t, original.Summary(), stored.Summary())
			assert.Equal(t, scrubbed, ScrubAccessCode(scrubbed), "scrubbing twice changes nothing")
		})
	}
}

func TestScrubAccessCodeLeavesBodiesWithoutATokenAsTheyAre(t *testing.T) {
	for _, body := range []string{
		seedReportCreated,
		candidateCreated,
		`{"id":"e","type":"token.deauthorized","data":{"object":{"access_code":""}}}`,
		`{"id":"e","type":"token.deauthorized","data":{"object":"access_code"}}`,
		`not JSON "access_code"`,
	} {
		assert.Equal(t, body, string(ScrubAccessCode([]byte(body))))
	}
}

func TestAFingerprintInTheBodyCountsOnlyInTheShapeScrubbingWritesIt(t *testing.T) {
	fp := TokenFingerprint("t")
	for body, want := range map[string]string{
		`{"id":"e","type":"token.deauthorized","data":{"object":{"access_code_sha256":"` + fp + `"}}}`:                   fp,
		`{"id":"e","type":"token.deauthorized","data":{"object":{"access_code_sha256":"not a fingerprint"}}}`:            "",
		`{"id":"e","type":"token.deauthorized","data":{"object":{"access_code":"u","access_code_sha256":"` + fp + `"}}}`: TokenFingerprint("u"),
		`{"id":"e","type":"report.created","data":{"object":{"access_code_sha256":"` + fp + `"}}}`:                       "",
	} {
		e, err := ParseEvent([]byte(body))
		require.NoError(t, err)
		assert.Equal(t, want, e.DeauthorizedTokenFingerprint(), body)
	}
}
