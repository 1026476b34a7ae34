package fake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

const maxRequestBody = 1 << 20

// Checkr's list paging: 25 a page unless per_page says otherwise, at most 100.
const (
	defaultPerPage = 25
	maxPerPage     = 100
)

// candidateObject is a Checkr candidate as the API and candidate.created show it, personal data
// included. The SSN is masked, as Checkr shows it.
type candidateObject struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	URI       string    `json:"uri"`
	CustomID  *string   `json:"custom_id"`
	Email     string    `json:"email"`
	FirstName *string   `json:"first_name"`
	LastName  *string   `json:"last_name"`
	DOB       *string   `json:"dob"`
	SSN       *string   `json:"ssn"`
	Zipcode   *string   `json:"zipcode"`
	Phone     *string   `json:"phone"`
	ReportIDs []string  `json:"report_ids"`
	CreatedAt time.Time `json:"created_at"`
}

type invitationObject struct {
	ID            string                `json:"id"`
	Object        string                `json:"object"`
	URI           string                `json:"uri"`
	Status        string                `json:"status"`
	InvitationURL string                `json:"invitation_url"`
	CandidateID   string                `json:"candidate_id"`
	Package       string                `json:"package"`
	ReportID      *string               `json:"report_id"`
	WorkLocations []checkr.WorkLocation `json:"work_locations,omitempty"`
	Tags          []string              `json:"tags"`
	CreatedAt     time.Time             `json:"created_at"`
	ExpiresAt     time.Time             `json:"expires_at"`
	CompletedAt   *time.Time            `json:"completed_at"`
	DeletedAt     *time.Time            `json:"deleted_at"`
}

// reportObject is a report like the seed's report.created sample, with the fields screening reads.
type reportObject struct {
	ID                      string                `json:"id"`
	Object                  string                `json:"object"`
	URI                     string                `json:"uri"`
	Status                  string                `json:"status"`
	Result                  *string               `json:"result"`
	Assessment              *string               `json:"assessment"`
	Adjudication            *string               `json:"adjudication"`
	Package                 string                `json:"package"`
	CandidateID             string                `json:"candidate_id"`
	WorkLocations           []checkr.WorkLocation `json:"work_locations,omitempty"`
	Tags                    []string              `json:"tags"`
	DocumentIDs             []string              `json:"document_ids"`
	CreatedAt               time.Time             `json:"created_at"`
	CompletedAt             *time.Time            `json:"completed_at"`
	UpgradedAt              *time.Time            `json:"upgraded_at"`
	TurnaroundTime          *int                  `json:"turnaround_time"`
	EstimatedCompletionTime *time.Time            `json:"estimated_completion_time"`
}

// accountObject is data.object of account.credentialed in ShapeAccount.
type accountObject struct {
	ID          string     `json:"id"`
	Object      string     `json:"object"`
	URI         string     `json:"uri"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

type documentObject struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Type        string `json:"type"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Filesize    int    `json:"filesize"`
	DownloadURI string `json:"download_uri"`
}

// apiHandler serves an authenticated API call for the account the key or token belongs to.
type apiHandler func(w http.ResponseWriter, r *http.Request, accountID string)

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/candidates", s.api(s.createCandidate))
	mux.Handle("GET /v1/candidates", s.api(s.listCandidates))
	mux.Handle("GET /v1/candidates/{id}", s.api(s.getCandidate))
	mux.Handle("DELETE /v1/candidates/{id}/pii", s.api(s.removeCandidatePII))
	mux.Handle("POST /v1/invitations", s.api(s.credentialed(s.createInvitation)))
	mux.Handle("GET /v1/invitations", s.api(s.credentialed(s.listInvitations)))
	mux.Handle("GET /v1/invitations/{id}", s.api(s.credentialed(s.getInvitation)))
	mux.Handle("POST /v1/reports", s.api(s.credentialed(s.createReport)))
	mux.Handle("GET /v1/reports", s.api(s.credentialed(s.listReports)))
	mux.Handle("GET /v1/reports/{id}", s.api(s.credentialed(s.getReport)))
	mux.Handle("GET /v1/documents/{id}", s.api(s.getDocument))
	mux.Handle("POST /oauth/tokens", s.failable(http.HandlerFunc(s.exchangeToken)))
	mux.Handle("POST /oauth/deauthorize", s.failable(http.HandlerFunc(s.deauthorize)))
	// A download_uri and an invitation_url are their own credentials: no key, and FailAPI does not
	// touch them.
	mux.HandleFunc("GET /downloads/{id}", s.download)
	mux.HandleFunc("GET /apply/{id}", s.applyPage)
	mux.Handle("/", s.api(func(w http.ResponseWriter, r *http.Request, _ string) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No route for %s %s", r.Method, r.URL.Path))
	}))
	return mux
}

// ServeHTTP serves the API (/v1/...), OAuth (/oauth/...), download URIs and invitation pages: the
// client's base URL is the server's URL.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// failable answers FailAPI's injected failures before h.
func (s *Server) failable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.failures.Answer(w, func(status int) { writeError(w, status, "Injected failure") }) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// api wraps an API call with FailAPI's injected failures and Basic authentication, in that order.
// The user name is the direct account's API key or a live access token; the password is ignored.
func (s *Server) api(h apiHandler) http.Handler {
	return s.failable(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accountID, ok := s.authenticate(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "Bad authentication error")
			return
		}
		h(w, r, accountID)
	}))
}

func (s *Server) authenticate(r *http.Request) (string, bool) {
	user, _, ok := r.BasicAuth()
	if !ok || user == "" {
		return "", false
	}
	// An empty key never matches, even when the fake was given none.
	if s.apiKey != "" && subtle.ConstantTimeCompare([]byte(user), []byte(s.apiKey)) == 1 {
		return DirectAccountID, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Looked up by digest: the fake keeps no token, and a map lookup on a digest leaks nothing.
	t := s.tokens[checkr.TokenFingerprint(user)]
	if t == nil || t.revoked {
		return "", false
	}
	return t.accountID, true
}

// credentialed refuses report and invitation calls of accounts Checkr has not credentialed yet.
func (s *Server) credentialed(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, accountID string) {
		s.mu.Lock()
		a := s.accounts[accountID]
		ok := a != nil && a.credentialed
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusForbidden, "account is not credentialed")
			return
		}
		h(w, r, accountID)
	}
}

// createCandidate validates what Checkr requires. Its error messages name fields, never values,
// which are personal data.
func (s *Server) createCandidate(w http.ResponseWriter, r *http.Request, accountID string) {
	var req checkr.CandidateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Email == "" {
		writeError(w, http.StatusBadRequest, "email is required")
		return
	}
	if _, err := mail.ParseAddress(req.Email); err != nil {
		writeError(w, http.StatusBadRequest, "email is invalid")
		return
	}
	if req.DOB != "" {
		if _, err := time.Parse(time.DateOnly, req.DOB); err != nil {
			writeError(w, http.StatusBadRequest, "dob must be a date as YYYY-MM-DD")
			return
		}
	}
	id := newID()
	obj := candidateObject{
		ID:        id,
		Object:    "candidate",
		URI:       "/v1/candidates/" + id,
		CustomID:  nullable(req.CustomID),
		Email:     req.Email,
		FirstName: nullable(req.FirstName),
		LastName:  nullable(req.LastName),
		DOB:       nullable(req.DOB),
		SSN:       nullable(maskSSN(req.SSN)),
		Zipcode:   nullable(req.Zipcode),
		Phone:     nullable(req.Phone),
		ReportIDs: []string{},
		CreatedAt: now(),
	}
	s.mu.Lock()
	s.addCandidateLocked(accountID, obj)
	body := fakekit.MustJSON(obj)
	s.mu.Unlock()
	s.log.Info("fake checkr: candidate created", "candidate_id", id, "account_id", accountID)
	writeRaw(w, http.StatusCreated, body)
}

func (s *Server) getCandidate(w http.ResponseWriter, r *http.Request, accountID string) {
	s.mu.Lock()
	c := s.candidates[r.PathValue("id")]
	var body []byte
	if c != nil && c.account == accountID {
		body = fakekit.MustJSON(c.obj)
	}
	s.mu.Unlock()
	if body == nil {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// removeCandidatePII removes the candidate's personal data and keeps its id, custom_id and reports,
// as Checkr's "Request PII removal for a Candidate" is described; its reports' PDFs hold no
// personal data here. A second removal answers 400 with the sentence Checkr documents.
func (s *Server) removeCandidatePII(w http.ResponseWriter, r *http.Request, accountID string) {
	var req struct {
		ContactEmail string `json:"deletion_contact_email_address"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if _, err := mail.ParseAddress(req.ContactEmail); err != nil {
		writeError(w, http.StatusBadRequest, "deletion_contact_email_address is required and must be an email address")
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	c := s.candidates[id]
	found := c != nil && c.account == accountID
	removedBefore := found && c.piiRemoved
	var body []byte
	if found && !removedBefore {
		c.piiRemoved = true
		c.obj.Email = ""
		c.obj.FirstName, c.obj.LastName, c.obj.DOB, c.obj.SSN, c.obj.Zipcode, c.obj.Phone = nil, nil, nil, nil, nil, nil
		s.piiRemovals = append(s.piiRemovals, PIIRemoval{CandidateID: id, AccountID: accountID, ContactEmail: req.ContactEmail})
		body = fakekit.MustJSON(c.obj)
	}
	s.mu.Unlock()
	switch {
	case !found:
		writeError(w, http.StatusNotFound, "Not found")
	case removedBefore:
		writeError(w, http.StatusBadRequest, "Candidate has already had PII removed")
	default:
		s.log.Info("fake checkr: candidate PII removed", "candidate_id", id, "account_id", accountID)
		writeRaw(w, http.StatusOK, body)
	}
}

func (s *Server) listCandidates(w http.ResponseWriter, r *http.Request, accountID string) {
	q := r.URL.Query()
	s.mu.Lock()
	var items []any
	for _, id := range slices.Backward(s.candidateOrder) {
		c := s.candidates[id]
		switch {
		case c.account != accountID:
		case q.Has("custom_id") && (c.obj.CustomID == nil || *c.obj.CustomID != q.Get("custom_id")):
		case q.Has("email") && c.obj.Email != q.Get("email"):
		default:
			items = append(items, c.obj)
		}
	}
	s.writeListLocked(w, r, items)
}

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request, accountID string) {
	var req checkr.InvitationRequest
	if !decodeBody(w, r, &req) || !validOrder(w, req.Package, req.CandidateID) {
		return
	}
	s.mu.Lock()
	if c := s.candidates[req.CandidateID]; c == nil || c.account != accountID {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Candidate not found")
		return
	}
	id := newID()
	t := now()
	inv := s.addInvitationLocked(accountID, invitationObject{
		ID:            id,
		Object:        "invitation",
		URI:           "/v1/invitations/" + id,
		Status:        checkr.InvitationPending,
		InvitationURL: s.baseLocked(r) + "/apply/" + id,
		CandidateID:   req.CandidateID,
		Package:       req.Package,
		WorkLocations: req.WorkLocations,
		Tags:          []string{},
		CreatedAt:     t,
		ExpiresAt:     t.Add(invitationLifetime),
	})
	body := fakekit.MustJSON(inv.obj)
	s.mu.Unlock()
	s.log.Info("fake checkr: invitation created", "invitation_id", id, "account_id", accountID)
	writeRaw(w, http.StatusCreated, body)
}

func (s *Server) getInvitation(w http.ResponseWriter, r *http.Request, accountID string) {
	s.mu.Lock()
	inv := s.invitations[r.PathValue("id")]
	var body []byte
	if inv != nil && inv.account == accountID {
		body = fakekit.MustJSON(inv.obj)
	}
	s.mu.Unlock()
	if body == nil {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	writeRaw(w, http.StatusOK, body)
}

func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request, accountID string) {
	q := r.URL.Query()
	s.mu.Lock()
	var items []any
	for _, id := range slices.Backward(s.invitationOrder) {
		inv := s.invitations[id]
		switch {
		case inv.account != accountID:
		case q.Has("candidate_id") && inv.obj.CandidateID != q.Get("candidate_id"):
		case q.Has("status") && inv.obj.Status != q.Get("status"):
		default:
			items = append(items, inv.obj)
		}
	}
	s.writeListLocked(w, r, items)
}

func (s *Server) createReport(w http.ResponseWriter, r *http.Request, accountID string) {
	var req checkr.ReportRequest
	if !decodeBody(w, r, &req) || !validOrder(w, req.Package, req.CandidateID) {
		return
	}
	s.mu.Lock()
	if c := s.candidates[req.CandidateID]; c == nil || c.account != accountID {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Candidate not found")
		return
	}
	rep := s.newReportLocked(accountID, req.CandidateID, req.Package, req.WorkLocations)
	s.startReportLocked(rep)
	body := fakekit.MustJSON(rep.obj)
	s.mu.Unlock()
	writeRaw(w, http.StatusCreated, body)
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request, accountID string) {
	s.mu.Lock()
	rep := s.reports[r.PathValue("id")]
	var body []byte
	if rep != nil && rep.account == accountID {
		body = fakekit.MustJSON(rep.obj)
	}
	s.mu.Unlock()
	if body == nil {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	writeRaw(w, http.StatusOK, body)
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request, accountID string) {
	q := r.URL.Query()
	s.mu.Lock()
	var items []any
	for _, id := range slices.Backward(s.reportOrder) {
		rep := s.reports[id]
		switch {
		case rep.account != accountID:
		case q.Has("candidate_id") && rep.obj.CandidateID != q.Get("candidate_id"):
		case q.Has("status") && rep.obj.Status != q.Get("status"):
		default:
			items = append(items, rep.obj)
		}
	}
	s.writeListLocked(w, r, items)
}

// getDocument answers the document with a fresh download_uri, valid for DownloadTTL.
func (s *Server) getDocument(w http.ResponseWriter, r *http.Request, accountID string) {
	s.mu.Lock()
	d := s.documents[r.PathValue("id")]
	if d == nil || d.account != accountID {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	token := randomHex(20)
	d.links[token] = time.Now().Add(s.downloadTTL)
	body := fakekit.MustJSON(documentObject{
		ID:          d.id,
		Object:      "document",
		Type:        checkr.DocumentPDFReport,
		Filename:    "report_" + d.reportID + ".pdf",
		ContentType: "application/pdf",
		Filesize:    len(d.pdf),
		DownloadURI: s.baseLocked(r) + "/downloads/" + d.id + "?" + url.Values{"token": {token}}.Encode(),
	})
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, body)
}

// download serves a download_uri. Like the S3 presigned links Checkr's are, an expired or wrong
// token answers 403 with an XML error.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.documents[r.PathValue("id")]
	var expires time.Time
	var issued bool
	var pdf []byte
	if d != nil {
		expires, issued = d.links[r.URL.Query().Get("token")]
		pdf = d.pdf
	}
	s.mu.Unlock()
	switch {
	case d == nil:
		writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	case !issued:
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
	case !time.Now().Before(expires):
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
	default:
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Length", strconv.Itoa(len(pdf)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(pdf)
	}
}

// applyPage stands in for Checkr's hosted apply flow at an invitation_url; CompleteInvitation
// plays the candidate.
func (s *Server) applyPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	inv := s.invitations[r.PathValue("id")]
	var status string
	if inv != nil {
		status = inv.obj.Status
	}
	s.mu.Unlock()
	if inv == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, "<!doctype html><title>Checkr apply (fake)</title><p>Fake Checkr apply flow for invitation %s: %s.</p>\n",
		html.EscapeString(inv.obj.ID), html.EscapeString(status))
}

// exchangeToken is POST /oauth/tokens: {client_id, client_secret, code} as JSON (or a form, as
// Checkr's curl examples send it) for {access_token, checkr_account_id}.
func (s *Server) exchangeToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Code         string `json:"code"`
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "The request body is not a valid form")
			return
		}
		req.ClientID, req.ClientSecret, req.Code = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), r.PostForm.Get("code")
	} else if !decodeBody(w, r, &req) {
		return
	}
	if s.clientID == "" || s.clientSecret == "" ||
		subtle.ConstantTimeCompare([]byte(req.ClientID), []byte(s.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(req.ClientSecret), []byte(s.clientSecret)) != 1 {
		writeError(w, http.StatusUnauthorized, "Invalid client_id or client_secret")
		return
	}
	if req.Code == "" {
		writeError(w, http.StatusBadRequest, "code is required")
		return
	}
	s.mu.Lock()
	c := s.codes[checkr.TokenFingerprint(req.Code)]
	if c == nil || c.used || time.Since(c.issued) > codeLifetime {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Invalid authorization code")
		return
	}
	c.used = true
	accessToken := randomHex(20)
	s.tokens[checkr.TokenFingerprint(accessToken)] = &token{accountID: c.accountID, value: accessToken}
	var sent <-chan struct{}
	if a := s.accounts[c.accountID]; s.credentialOnToken && a.credentialed {
		sent = s.credentialLocked(a)
	}
	s.mu.Unlock()
	s.log.Info("fake checkr: access token issued", "account_id", c.accountID)

	// A pre-credentialed account's account.credentialed goes first, so that receivers see it before
	// the exchange has told the partner which account the token is for.
	if sent != nil {
		select {
		case <-sent:
		case <-s.webhooks.Closing():
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token":      accessToken,
		"token_type":        "bearer",
		"scope":             "read_write",
		"checkr_account_id": c.accountID,
	})
}

// deauthorize is POST /oauth/deauthorize with the access token as Basic user name: it revokes the
// token and sends token.deauthorized, which names the token in data.object.access_code.
func (s *Server) deauthorize(w http.ResponseWriter, r *http.Request) {
	user, _, _ := r.BasicAuth()
	s.mu.Lock()
	t := s.tokens[checkr.TokenFingerprint(user)]
	if user == "" || t == nil || t.revoked {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "Bad authentication error")
		return
	}
	t.revoked = true
	s.sendLocked(newWebhook(checkr.EventTokenDeauthorized, PartnerAccountID, map[string]string{"access_code": user}))
	s.mu.Unlock()
	s.log.Info("fake checkr: access token revoked", "account_id", t.accountID)
	w.WriteHeader(http.StatusNoContent)
}

// listPage is Checkr's list answer.
type listPage struct {
	Data         []any   `json:"data"`
	Object       string  `json:"object"`
	NextHref     *string `json:"next_href"`
	PreviousHref *string `json:"previous_href"`
	Count        int     `json:"count"`
}

// writeListLocked answers the page of items (newest first) that page and per_page ask for, and
// unlocks s.mu before writing.
func (s *Server) writeListLocked(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	page, err1 := intParam(q.Get("page"), 1, 1, 1<<30)
	perPage, err2 := intParam(q.Get("per_page"), defaultPerPage, 1, maxPerPage)
	if err1 != nil || err2 != nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, fmt.Sprintf("page must be at least 1 and per_page from 1 to %d", maxPerPage))
		return
	}
	start := min((page-1)*perPage, len(items))
	end := min(start+perPage, len(items))
	out := listPage{Data: items[start:end], Object: "list", Count: len(items)}
	if out.Data == nil {
		out.Data = []any{}
	}
	href := func(p int) *string {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(perPage))
		h := s.baseLocked(r) + r.URL.Path + "?" + qq.Encode()
		return &h
	}
	if end < len(items) {
		out.NextHref = href(page + 1)
	}
	if page > 1 {
		out.PreviousHref = href(page - 1)
	}
	body := fakekit.MustJSON(out)
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, body)
}

// baseLocked is the fake's public URL: SetBaseURL's, else the one the request was sent to.
func (s *Server) baseLocked(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func validOrder(w http.ResponseWriter, pkg, candidateID string) bool {
	switch {
	case pkg == "":
		writeError(w, http.StatusBadRequest, "package is required")
		return false
	case candidateID == "":
		writeError(w, http.StatusBadRequest, "candidate_id is required")
		return false
	}
	return true
}

func intParam(raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// maskSSN shows an SSN the way Checkr's API does: only its last four digits.
func maskSSN(ssn string) string {
	if ssn == "" {
		return ""
	}
	digits := make([]byte, 0, 9)
	for i := 0; i < len(ssn); i++ {
		if ssn[i] >= '0' && ssn[i] <= '9' {
			digits = append(digits, ssn[i])
		}
	}
	if len(digits) < 4 {
		return "XXX-XX-XXXX"
	}
	return "XXX-XX-" + string(digits[len(digits)-4:])
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "The request body is not valid JSON")
		return false
	}
	return true
}

// writeError answers in Checkr's error shape, {"error": "..."}.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>\n", code, message)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeRaw(w, status, fakekit.MustJSON(v))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client may have gone; there is nobody left to tell.
	_, _ = w.Write(body)
}
