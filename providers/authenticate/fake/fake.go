// Package fake is a local Authenticate: a real HTTP server with the API calls screening uses, that
// moves searches along and generates PDF reports by itself and sends Authenticate's unsigned
// webhooks. Test controls make it misbehave the ways the real one can (duplicate, reordered and
// lost webhooks, failing API calls and reports, expiring links).
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

const (
	defaultSearchDelay = 500 * time.Millisecond
	defaultPDFDelay    = 300 * time.Millisecond
	defaultLinkTTL     = 10 * time.Minute
	defaultRateLimit   = 5 * time.Minute // Authenticate's one PDF request per user per five minutes
)

// defaultRetryDelays stands in for Authenticate's retry policy, which is not documented: five
// tries in all, exponentially spaced, in milliseconds so that tests do not wait.
var defaultRetryDelays = []time.Duration{
	50 * time.Millisecond,
	100 * time.Millisecond,
	200 * time.Millisecond,
	400 * time.Millisecond,
}

// Options configures a fake Authenticate.
type Options struct {
	// APIKey is the required Bearer token; a wrong or missing one answers 401. Left empty, every
	// API call answers 401.
	APIKey string
	// CompanyAccessCode is what POST /company/webhook must carry: missing → 400, wrong → 403.
	CompanyAccessCode string
	// WebhookURL is where webhooks go until POST /company/webhook changes it; "" → none.
	WebhookURL string
	// SearchDelay is the time between the steps of a search (PENDING → IN_PROGRESS → COMPLETE).
	// 0 → 500 ms; negative → never by itself (tests call AdvanceSearches).
	SearchDelay time.Duration
	// PDFDelay is how long a PDF report stays INITIATED. 0 or negative → 300 ms.
	PDFDelay time.Duration
	// LinkTTL is how long a report link works. 0 → 10 min; negative → links are expired when issued.
	LinkTTL time.Duration
	// RateLimit is the minimum time between two accepted PDF requests of one user.
	// 0 → 5 min, Authenticate's; negative → no limit.
	RateLimit time.Duration
	// RetryDelays is the webhook retry schedule after a non-2xx answer or a transport error; after
	// the last retry fails the event is given up. Authenticate documents no retry policy, so nil →
	// a short exponential stand-in: 50, 100, 200, 400 ms (five tries). Empty → no retries.
	RetryDelays []time.Duration
	HTTPClient  *http.Client // for sending webhooks; nil → a client with a 10 s timeout
	Logger      *slog.Logger // nil → discard
}

// Delivery is one attempt to deliver a webhook. GaveUp means the last retry failed: the event is
// lost.
type Delivery = fakekit.Delivery

// Server is a fake Authenticate. Its methods are safe for concurrent use.
type Server struct {
	apiKey            string
	companyAccessCode string
	searchDelay       time.Duration
	pdfDelay          time.Duration
	rateLimit         time.Duration
	log               *slog.Logger
	mux               *http.ServeMux
	webhooks          *fakekit.Sender
	timers            *fakekit.Timers // search steps and report generation

	mu          sync.Mutex
	baseURL     string
	webhookURL  string
	linkTTL     time.Duration
	recordFound bool
	reorder     bool
	failures    fakekit.Failures
	failPDFLeft int
	// loseUserAnswersLeft counts the user creations still to answer 504 after creating the user.
	loseUserAnswersLeft int
	// sharedEventID, when set, is the id of every event sent (ShareEventID).
	sharedEventID string
	sent          []fakekit.Webhook
	users         map[string]*user
	reports       map[string]*report
}

// user is what the fake keeps of an Authenticate user. It keeps no personal data: nothing reads it.
type user struct {
	code           string
	consented      bool
	criminal       []authenticate.Search // nil until ordered
	sexOffender    []authenticate.Search // nil until ordered, then one search
	latestReport   *report
	lastPDFRequest time.Time
	pdfRequests    int
}

type report struct {
	uuid     string
	user     *user
	status   string
	failing  bool                 // decided when requested, by FailPDF
	linkBase string               // the fake's URL as the request that asked for the report saw it
	links    map[string]time.Time // token → expiry; every link issued stays valid until its expiry
	pdf      []byte
}

// New returns a fake Authenticate. Serve it with httptest.NewServer (or any http.Server) and
// point the client at its URL with DefaultPaths. Close it to stop its timers and webhook senders.
func New(opts Options) *Server {
	s := &Server{
		apiKey:            opts.APIKey,
		companyAccessCode: opts.CompanyAccessCode,
		searchDelay:       opts.SearchDelay,
		pdfDelay:          opts.PDFDelay,
		rateLimit:         opts.RateLimit,
		log:               opts.Logger,
		webhookURL:        opts.WebhookURL,
		linkTTL:           opts.LinkTTL,
		users:             make(map[string]*user),
		reports:           make(map[string]*report),
	}
	if s.searchDelay == 0 {
		s.searchDelay = defaultSearchDelay
	}
	if s.pdfDelay <= 0 {
		s.pdfDelay = defaultPDFDelay
	}
	if s.rateLimit == 0 {
		s.rateLimit = defaultRateLimit
	}
	if s.linkTTL == 0 {
		s.linkTTL = defaultLinkTTL
	}
	retryDelays := slices.Clone(opts.RetryDelays)
	if opts.RetryDelays == nil {
		retryDelays = defaultRetryDelays
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.webhooks = fakekit.NewSender(fakekit.SenderOptions{
		Name:       "fake authenticate",
		HTTPClient: httpClient,
		Logger:     s.log,
		// Authenticate documents no retry policy; RetryDelays stands in for it.
		RetryDelays: retryDelays,
		// Authenticate signs nothing: the receiver knows it by the token in the URL it registered,
		// which Delivery.Err must therefore not quote.
		RedactURL: true,
		InOrder:   true,
	})
	s.timers = fakekit.NewTimers(&s.mu)
	s.mux = s.routes()
	return s
}

// Close stops the timers, cancels webhook deliveries and their pending retries, and waits for
// their goroutines.
func (s *Server) Close() {
	s.timers.Close()
	s.webhooks.Close()
}

// SetBaseURL sets the fake's own public URL, which report links start with. Unset, links start
// with the URL the request that asked for the report was sent to.
func (s *Server) SetBaseURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = url
}

// SetRecordFound makes searches that complete from now on end RECORD_FOUND instead of CLEAR.
func (s *Server) SetRecordFound(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordFound = on
}

// FailPDF makes the next n PDF reports requested end FAILED.
func (s *Server) FailPDF(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPDFLeft = n
}

// SetLinkTTL sets how long report links issued from now on work. 0 → 10 min; negative → links are
// expired when issued.
func (s *Server) SetLinkTTL(d time.Duration) {
	if d == 0 {
		d = defaultLinkTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkTTL = d
}

// DuplicateWebhooks makes every webhook from now on be delivered twice, with the same event id.
func (s *Server) DuplicateWebhooks(on bool) {
	s.webhooks.SetDuplicate(on)
}

// ReorderWebhooks makes search steps from now on send their status updates in reverse order, and
// send ALL_CRIMINAL_REQUESTS_COMPLETE before the last search's COMPLETE update.
func (s *Server) ReorderWebhooks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reorder = on
}

// DropWebhooks makes events of these types never be sent, as if the webhook were lost. Without
// arguments it sends every type again.
func (s *Server) DropWebhooks(types ...string) {
	s.webhooks.Drop(types...)
}

// FailAPI makes the next n API calls answer status with an error body, before doing anything.
// Report downloads are not API calls and are not failed.
func (s *Server) FailAPI(n, status int) {
	s.failures.Inject(n, status, nil)
}

// FailAPIWithBody is FailAPI with body as the error answers' body: one a provider may send, such as
// a message echoing the request's data.
func (s *Server) FailAPIWithBody(n, status int, body []byte) {
	s.failures.Inject(n, status, body)
}

// LoseUserAnswers makes the next n calls of POST /user/create create the user, then answer 504
// Gateway Timeout instead of its userAccessCode: an answer lost on the way back, after Authenticate
// acted on the call.
func (s *Server) LoseUserAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseUserAnswersLeft = n
}

// AdvanceSearches moves every search of the user that is not complete one step now, and sends
// their webhooks. It is how tests move searches when SearchDelay is negative.
func (s *Server) AdvanceSearches(userAccessCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userAccessCode]
	if !ok {
		return fmt.Errorf("fake authenticate: no user %q", userAccessCode)
	}
	if u.criminal == nil && u.sexOffender == nil {
		return errors.New("fake authenticate: no search ordered for the user")
	}
	criminalMoved, _ := s.stepCriminalLocked(u)
	sexOffenderMoved, _ := s.stepSexOffenderLocked(u)
	if !criminalMoved && !sexOffenderMoved {
		return errors.New("fake authenticate: every search of the user is already complete")
	}
	return nil
}

// ShareEventID makes every event sent from now on carry id as its "id", as Authenticate would if
// its id named the user or the order rather than the event: its documentation never says the id
// is unique per event (every sample shows "string"). "" gives each event its own id again.
func (s *Server) ShareEventID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sharedEventID = id
}

// SendUserPIIUpdate sends USER_PII_UPDATE for the user, as Authenticate does when the user's
// personal data changes. The event carries only the userAccessCode.
func (s *Server) SendUserPIIUpdate(userAccessCode string) error {
	return s.sendUserEvent(userAccessCode, authenticate.EventUserPIIUpdate)
}

// SendMonitoringRecordFound sends MONITORING_RECORD_FOUND for the user and changes nothing in
// the API: what a forged or mistaken notice looks like to the receiver.
func (s *Server) SendMonitoringRecordFound(userAccessCode string) error {
	return s.sendUserEvent(userAccessCode, authenticate.EventMonitoringRecordFound)
}

// sendUserEvent sends an event whose order holds only the userAccessCode.
func (s *Server) sendUserEvent(userAccessCode, typ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userAccessCode]; !ok {
		return fmt.Errorf("fake authenticate: no user %q", userAccessCode)
	}
	s.sendLocked(s.newWebhookLocked(typ, authenticate.Order{UserAccessCode: userAccessCode}))
	return nil
}

// FindMonitoringRecord is monitoring finding a record about the user after its searches
// completed: the user's first criminal search reports RECORD_FOUND in the test result from now
// on, and MONITORING_RECORD_FOUND is sent.
func (s *Server) FindMonitoringRecord(userAccessCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userAccessCode]
	switch {
	case !ok:
		return fmt.Errorf("fake authenticate: no user %q", userAccessCode)
	case len(u.criminal) == 0 || !allComplete(u.criminal):
		return errors.New("fake authenticate: monitoring follows completed criminal searches")
	}
	u.criminal[0].SearchSubStatus = authenticate.SubStatusRecordFound
	s.sendLocked(s.newWebhookLocked(authenticate.EventMonitoringRecordFound, authenticate.Order{UserAccessCode: userAccessCode}))
	return nil
}

// Sent returns every webhook the fake has issued, in order, with the exact bytes of each body:
// once each, whatever DuplicateWebhooks says, and including those DropWebhooks kept from being
// delivered.
func (s *Server) Sent() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// ReportPDF returns the exact bytes served for the report, once it is COMPLETED.
func (s *Server) ReportPDF(reportUUID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reports[reportUUID]
	if !ok || r.pdf == nil {
		return nil, false
	}
	return slices.Clone(r.pdf), true
}

// Deliveries returns every webhook delivery attempt so far, in the order they finished.
func (s *Server) Deliveries() []Delivery {
	return s.webhooks.Deliveries()
}

// UsersCreated returns how many users POST /user/create created.
func (s *Server) UsersCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// PDFRequests returns how many PDF reports were requested for the user; requests refused with
// 429 are not counted.
func (s *Server) PDFRequests(userAccessCode string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[userAccessCode]; ok {
		return u.pdfRequests
	}
	return 0
}

// scheduleStepLocked arms the next step of the user's criminal searches or sex offender check;
// each step re-arms the next until every search is complete.
func (s *Server) scheduleStepLocked(u *user, criminal bool) {
	if s.searchDelay < 0 {
		return
	}
	key, step := u.code+"/sex-offender", s.stepSexOffenderLocked
	if criminal {
		key, step = u.code+"/criminal", s.stepCriminalLocked
	}
	s.timers.ArmLocked(key, s.searchDelay, func() {
		if _, pending := step(u); pending {
			s.scheduleStepLocked(u, criminal)
		}
	})
}

// stepCriminalLocked moves the user's criminal searches one step and sends their updates, then
// ALL_CRIMINAL_REQUESTS_COMPLETE once every search is complete. It reports whether a search
// moved and whether one is still not complete.
func (s *Server) stepCriminalLocked(u *user) (moved, pending bool) {
	steps := s.advanceLocked(u.criminal)
	if len(steps) == 0 {
		return false, false
	}
	hooks := make([]fakekit.Webhook, 0, len(steps)+1)
	for _, sr := range steps {
		hooks = append(hooks, s.newWebhookLocked(authenticate.EventCriminalStatusUpdate, authenticate.Order{UserAccessCode: u.code, OrderDetails: &sr}))
	}
	pending = !allComplete(u.criminal)
	if s.reorder {
		slices.Reverse(hooks)
	}
	if !pending {
		all := s.newWebhookLocked(authenticate.EventAllCriminalComplete, authenticate.Order{UserAccessCode: u.code})
		at := len(hooks)
		if s.reorder {
			at--
		}
		hooks = slices.Insert(hooks, at, all)
	}
	for _, wh := range hooks {
		s.sendLocked(wh)
	}
	return true, pending
}

// stepSexOffenderLocked moves the user's sex offender check one step and sends its update.
func (s *Server) stepSexOffenderLocked(u *user) (moved, pending bool) {
	steps := s.advanceLocked(u.sexOffender)
	for _, sr := range steps {
		s.sendLocked(s.newWebhookLocked(authenticate.EventSexOffenderStatusUpdate, authenticate.Order{UserAccessCode: u.code, OrderDetails: &sr}))
	}
	return len(steps) > 0, !allComplete(u.sexOffender)
}

// advanceLocked moves every search that is not complete one step, in place, and returns the
// searches it moved as they are now.
func (s *Server) advanceLocked(searches []authenticate.Search) []authenticate.Search {
	var moved []authenticate.Search
	for i := range searches {
		sr := &searches[i]
		switch sr.SearchStatus {
		case authenticate.SearchPending:
			sr.SearchStatus = authenticate.SearchInProgress
		case authenticate.SearchInProgress:
			sr.SearchStatus = authenticate.SearchComplete
			sr.SearchSubStatus = authenticate.SubStatusClear
			if s.recordFound {
				sr.SearchSubStatus = authenticate.SubStatusRecordFound
			}
		default:
			continue
		}
		s.log.Info("fake authenticate: search moved", "search_id", sr.UniqueIdentifier, "type", sr.SearchType, "status", sr.SearchStatus)
		moved = append(moved, *sr)
	}
	return moved
}

func allComplete(searches []authenticate.Search) bool {
	for _, sr := range searches {
		if sr.SearchStatus != authenticate.SearchComplete {
			return false
		}
	}
	return true
}

// finishReportLocked ends a report's generation, COMPLETED or FAILED, and announces it.
func (s *Server) finishReportLocked(r *report) {
	order := authenticate.Order{UserAccessCode: r.user.code, ReportUUID: r.uuid}
	if r.failing {
		r.status = authenticate.PDFFailed
	} else {
		r.status = authenticate.PDFCompleted
		r.pdf = reportPDF(r.uuid, r.user.code, outcome(r.user.criminal), outcome(r.user.sexOffender))
		link, expires := s.issueLinkLocked(r)
		order.ReportLink, order.Expires = link, &expires
	}
	order.Status = r.status
	s.sendLocked(s.newWebhookLocked(authenticate.EventPDFReportGeneration, order))
	s.log.Info("fake authenticate: report generated", "report_uuid", r.uuid, "status", r.status)
}

// issueLinkLocked returns a new link to a COMPLETED report and when it expires.
func (s *Server) issueLinkLocked(r *report) (string, time.Time) {
	token := randomHex(16)
	expires := now().Add(s.linkTTL)
	r.links[token] = expires
	base := s.baseURL
	if base == "" {
		base = r.linkBase
	}
	return base + "/reports/" + r.uuid + "?token=" + token, expires
}

// outcome sums up searches for the report: the worst sub status once every search is complete.
func outcome(searches []authenticate.Search) string {
	switch {
	case searches == nil:
		return "not ordered"
	case !allComplete(searches):
		return authenticate.SearchPending
	}
	for _, sr := range searches {
		if sr.SearchSubStatus != authenticate.SubStatusClear {
			return sr.SearchSubStatus
		}
	}
	return authenticate.SubStatusClear
}

// newUUID returns a random (version 4) UUID, the shape of Authenticate's identifiers.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// now is the current time at the millisecond precision of Authenticate's dates.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}
