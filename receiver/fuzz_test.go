package receiver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/providers/builtin"
)

// FuzzCreateScreeningRequest feeds arbitrary bodies and Idempotency-Keys to the HR API's decoding
// and validation: it never panics, answers only 400, 413 or 422 for what it refuses, and what it
// accepts is an order that can be stored (1 to 10 checks of known providers, candidate text
// Postgres takes).
func FuzzCreateScreeningRequest(f *testing.F) {
	gin.SetMode(gin.TestMode)
	providers := builtin.Providers()
	if err := providers.Configure(func(string) string { return "" }); err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: Config{Providers: providers}, log: slog.New(slog.DiscardHandler)}
	for _, seed := range []string{
		`{"candidate":{"reference":"emp-42","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","dob":"1990-12-10"},"checks":[{"provider":"complycube","type":"standard_screening_check"}]}`,
		`{"candidate":{"reference":"r","first_name":"A","last_name":"L","email":"a@b.co","dob":"1990-12-10","country":"GBR"},"checks":[{"provider":"authenticate","type":"criminal","options":{"sex_offender":true,"pdf_report":false}}]}`,
		`{"candidate":{"reference":"r","first_name":"A","last_name":"L","email":"a@b.co","dob":"1990-12-10"},"checks":[{"provider":"checkr","package":"tasker_standard","mode":"report","account":"acct"}]}`,
		`{"candidate":{"first_name":"A\u0000"},"checks":[{"provider":"checkr","options":{}}]}`,
		`{"checks":{"provider":"complycube"}}`, `[]`, `{}`, `{"candidate":{}} {}`, ``,
	} {
		f.Add([]byte(seed), "key-1")
	}
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/v1/screenings", bytes.NewReader(body))
		c.Request.Header["Idempotency-Key"] = []string{key}
		order, ok := s.bindCreateScreening(c)
		if !ok {
			switch w.Code {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			default:
				t.Fatalf("refused with %d: %s", w.Code, w.Body)
			}
			return
		}
		if len(order.Checks) < 1 || len(order.Checks) > 10 {
			t.Fatalf("accepted %d checks", len(order.Checks))
		}
		for _, ch := range order.Checks {
			if _, known := providers.Get(ch.Provider); !known {
				t.Fatalf("accepted provider %q", ch.Provider)
			}
		}
		cand := order.Candidate
		for _, v := range []string{cand.Reference, cand.FirstName, cand.LastName, cand.Email, cand.DOB, cand.AddressLine1,
			cand.AddressLine2, cand.City, cand.State, cand.PostalCode, cand.Country, key} {
			if !isText(v) {
				t.Fatalf("accepted %q, which Postgres cannot store as text", v)
			}
		}
	})
}
