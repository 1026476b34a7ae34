package fake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/screenflow/screenflow/providers/authenticate"
)

const maxRequestBody = 1 << 20

func (s *Server) routes() *http.ServeMux {
	p := authenticate.DefaultPaths
	mux := http.NewServeMux()
	mux.Handle("POST "+p.CreateUser, s.api(s.createUser))
	mux.Handle("POST "+p.Consent, s.api(s.consent))
	mux.Handle("POST "+p.CriminalSearch, s.api(s.orderCriminal))
	mux.Handle("POST "+p.SexOffender, s.api(s.orderSexOffender))
	mux.Handle("POST "+p.TestResult, s.api(s.testResult))
	mux.Handle("POST "+p.InitiatePDF, s.api(s.initiatePDF))
	mux.Handle("POST "+p.RetrievePDF, s.api(s.retrievePDF))
	mux.Handle("POST "+p.CompanyWebhook, s.api(s.registerWebhook))
	// A report link is its own credential: no API key, and FailAPI does not touch it.
	mux.HandleFunc("GET /reports/{uuid}", s.downloadReport)
	mux.Handle("/", s.api(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No route for %s %s", r.Method, r.URL.Path))
	}))
	return mux
}

// ServeHTTP serves the API at the root: the client's base URL is the server's URL.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// api wraps an API call with FailAPI's injected failures and the Bearer key check, in that order.
func (s *Server) api(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.failures.Answer(w, func(status int) { writeError(w, status, "Injected failure") }) {
			return
		}
		// An empty key never matches, even when the fake was given none.
		got := r.Header.Get("Authorization")
		if s.apiKey == "" || subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+s.apiKey)) != 1 {
			writeError(w, http.StatusUnauthorized, "Unauthorized: invalid or missing API key")
			return
		}
		h(w, r)
	})
}

// createUser validates the fields Authenticate requires. It keeps none of them, and its error
// messages name fields, never values, as they would otherwise carry personal data.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req authenticate.CreateUserRequest
	if !decodeBody(w, r, &req) {
		return
	}
	for _, f := range []struct{ name, value string }{
		{"firstName", req.FirstName}, {"lastName", req.LastName}, {"dob", req.DOB}, {"email", req.Email},
	} {
		if f.value == "" {
			writeError(w, http.StatusBadRequest, f.name+" is required")
			return
		}
	}
	if _, err := time.Parse(authenticate.DOBLayout, req.DOB); err != nil {
		writeError(w, http.StatusBadRequest, "dob must be in DD-MM-YYYY format")
		return
	}
	if _, err := mail.ParseAddress(req.Email); err != nil {
		writeError(w, http.StatusBadRequest, "email is not a valid email address")
		return
	}
	u := &user{code: newUUID()}
	s.mu.Lock()
	s.users[u.code] = u
	lose := s.loseUserAnswersLeft > 0
	if lose {
		s.loseUserAnswersLeft--
	}
	s.mu.Unlock()
	s.log.Info("fake authenticate: user created", "user_access_code", u.code, "answer_lost", lose)
	if lose {
		writeError(w, http.StatusGatewayTimeout, "Gateway Timeout")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"userAccessCode": u.code})
}

func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	var req authenticate.ConsentRequest
	if !decodeBody(w, r, &req) {
		return
	}
	switch {
	case req.UserAccessCode == "":
		writeError(w, http.StatusBadRequest, "userAccessCode is required")
		return
	case !req.IsBackgroundDisclosureAccepted:
		writeError(w, http.StatusBadRequest, "isBackgroundDisclosureAccepted must be true")
		return
	case req.FullName == "":
		writeError(w, http.StatusBadRequest, "fullName is required")
		return
	}
	s.mu.Lock()
	u, found := s.users[req.UserAccessCode]
	already := found && u.consented
	if found {
		u.consented = true
	}
	s.mu.Unlock()
	switch {
	case !found:
		writeUnknownUser(w)
	case already:
		writeError(w, http.StatusBadRequest, "Consent has already been recorded")
	default:
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	}
}

// userCall decodes the body of a call that names only a user, and finds the user. It answers
// the error itself and returns nil when there is none.
func (s *Server) userCall(w http.ResponseWriter, r *http.Request) *user {
	var req struct {
		UserAccessCode string `json:"userAccessCode"`
	}
	if !decodeBody(w, r, &req) {
		return nil
	}
	if req.UserAccessCode == "" {
		writeError(w, http.StatusBadRequest, "userAccessCode is required")
		return nil
	}
	s.mu.Lock()
	u := s.users[req.UserAccessCode]
	s.mu.Unlock()
	if u == nil {
		writeUnknownUser(w)
	}
	return u
}

// orderSearches orders a user's searches once, after consent, and arms their progression.
// kinds are the new searches' types; it returns them as created, or the message of a 400.
func (s *Server) orderSearches(u *user, criminal bool, kinds ...string) ([]authenticate.Search, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := &u.sexOffender
	if criminal {
		target = &u.criminal
	}
	switch {
	case !u.consented:
		return nil, "Consent has not been recorded for this user"
	case *target != nil:
		return nil, "This search is already ordered for this user"
	}
	searches := make([]authenticate.Search, 0, len(kinds))
	for _, kind := range kinds {
		searches = append(searches, authenticate.Search{
			UniqueIdentifier: newUUID(),
			SearchType:       kind,
			SearchStatus:     authenticate.SearchPending,
		})
	}
	*target = searches
	s.scheduleStepLocked(u, criminal)
	return slices.Clone(searches), ""
}

func (s *Server) orderCriminal(w http.ResponseWriter, r *http.Request) {
	u := s.userCall(w, r)
	if u == nil {
		return
	}
	searches, refused := s.orderSearches(u, true,
		authenticate.SearchTypeCountyCriminal, authenticate.SearchTypeCountyCriminal, authenticate.SearchTypeFederalCriminal)
	if refused != "" {
		writeError(w, http.StatusBadRequest, refused)
		return
	}
	s.log.Info("fake authenticate: criminal searches ordered", "user_access_code", u.code, "searches", len(searches))
	writeJSON(w, http.StatusOK, map[string]any{"userAccessCode": u.code, "searches": searches})
}

func (s *Server) orderSexOffender(w http.ResponseWriter, r *http.Request) {
	u := s.userCall(w, r)
	if u == nil {
		return
	}
	searches, refused := s.orderSearches(u, false, authenticate.SearchTypeSexOffender)
	if refused != "" {
		writeError(w, http.StatusBadRequest, refused)
		return
	}
	s.log.Info("fake authenticate: sex offender check ordered", "user_access_code", u.code)
	writeJSON(w, http.StatusOK, map[string]any{"userAccessCode": u.code, "sexOffender": searches[0]})
}

func (s *Server) testResult(w http.ResponseWriter, r *http.Request) {
	u := s.userCall(w, r)
	if u == nil {
		return
	}
	s.mu.Lock()
	tr := authenticate.TestResult{UserAccessCode: u.code}
	if u.criminal != nil {
		status := authenticate.SearchPending
		if allComplete(u.criminal) {
			status = authenticate.SearchComplete
		}
		tr.Criminal = &authenticate.CriminalResult{Status: status, Searches: slices.Clone(u.criminal)}
	}
	if u.sexOffender != nil {
		sr := u.sexOffender[0]
		tr.SexOffender = &sr
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, tr)
}

func (s *Server) initiatePDF(w http.ResponseWriter, r *http.Request) {
	u := s.userCall(w, r)
	if u == nil {
		return
	}
	s.mu.Lock()
	// The window runs from the last accepted request: refused ones do not extend it.
	if wait := time.Until(u.lastPDFRequest.Add(s.rateLimit)); s.rateLimit > 0 && u.pdfRequests > 0 && wait > 0 {
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "A PDF report can be requested once every 5 minutes per user")
		return
	}
	rep := &report{
		uuid:     newUUID(),
		user:     u,
		status:   authenticate.PDFInitiated,
		failing:  s.failPDFLeft > 0,
		linkBase: requestBase(r),
		links:    make(map[string]time.Time),
	}
	if rep.failing {
		s.failPDFLeft--
	}
	s.reports[rep.uuid] = rep
	u.latestReport = rep
	u.lastPDFRequest = time.Now()
	u.pdfRequests++
	s.sendLocked(s.newWebhookLocked(authenticate.EventPDFReportGeneration, authenticate.Order{
		UserAccessCode: u.code, Status: rep.status, ReportUUID: rep.uuid,
	}))
	s.timers.ArmLocked("pdf/"+rep.uuid, s.pdfDelay, func() { s.finishReportLocked(rep) })
	s.mu.Unlock()
	s.log.Info("fake authenticate: report requested", "user_access_code", u.code, "report_uuid", rep.uuid)
	writeJSON(w, http.StatusOK, authenticate.PDFReport{ReportUUID: rep.uuid, Status: authenticate.PDFInitiated})
}

func (s *Server) retrievePDF(w http.ResponseWriter, r *http.Request) {
	u := s.userCall(w, r)
	if u == nil {
		return
	}
	s.mu.Lock()
	rep := u.latestReport
	var out authenticate.PDFReport
	if rep != nil {
		out = authenticate.PDFReport{ReportUUID: rep.uuid, Status: rep.status}
		if rep.status == authenticate.PDFCompleted {
			out.ReportLink, out.Expires = s.issueLinkLocked(rep)
		}
	}
	s.mu.Unlock()
	if rep == nil {
		writeError(w, http.StatusNotFound, "No PDF report has been requested for this user")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) registerWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CompanyAccessCode string `json:"companyAccessCode"`
		WebhookURL        string `json:"webhookURL"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.CompanyAccessCode == "" {
		writeError(w, http.StatusBadRequest, "companyAccessCode is required")
		return
	}
	if s.companyAccessCode == "" || subtle.ConstantTimeCompare([]byte(req.CompanyAccessCode), []byte(s.companyAccessCode)) != 1 {
		writeError(w, http.StatusForbidden, "companyAccessCode is not valid for this API key")
		return
	}
	if u, err := url.Parse(req.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(w, http.StatusBadRequest, "webhookURL must be an absolute http or https URL")
		return
	}
	s.mu.Lock()
	s.webhookURL = req.WebhookURL
	s.mu.Unlock()
	// The URL holds the receiver's token: it is not logged.
	s.log.Info("fake authenticate: webhook URL registered")
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (s *Server) downloadReport(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rep := s.reports[r.PathValue("uuid")]
	var expires time.Time
	var issued bool
	var pdf []byte
	if rep != nil && rep.pdf != nil {
		expires, issued = rep.links[r.URL.Query().Get("token")]
		pdf = rep.pdf
	}
	s.mu.Unlock()
	switch {
	case !issued:
		writeError(w, http.StatusNotFound, "Report not found")
	case !time.Now().Before(expires):
		writeError(w, http.StatusGone, "The report link has expired")
	default:
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Length", strconv.Itoa(len(pdf)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(pdf)
	}
}

// requestBase is the fake's URL as the client that sent r sees it.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeUnknownUser(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "User not found for the userAccessCode")
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "The request body is not valid JSON")
		return false
	}
	return true
}

// writeError answers in Authenticate's error shape, {"errorMessage": "..."}.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"errorMessage": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client may have gone; there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(v)
}
