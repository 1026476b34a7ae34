package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var ac *activities.Authenticate

type authenticateCheckSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu            sync.Mutex // the test suite runs activities on goroutines of their own
	searchUpdates []activities.SearchUpdateInput
	reads         int
	readResults   []activities.AuthenticateResult // what successive reads of the API return
	reportsAsked  int
	stored        []activities.ReportRef
	storeErrs     []error  // what successive report downloads fail with (nil: success)
	initiated     []string // the reportUUID each successive report request answers with
	// pdfAPI is each report's stage as the API shows it: the stage its events last said, unless
	// apiSays says otherwise.
	pdfAPI, apiSays map[string]string
	updates         []activities.CheckUpdateInput
	recorded        []activities.CheckEventInput
}

func TestAuthenticateCheckWorkflow(t *testing.T) { suite.Run(t, new(authenticateCheckSuite)) }

var complete = activities.AuthenticateResult{CriminalComplete: true, SexOffenderComplete: true, Searches: 3}

func (s *authenticateCheckSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(AuthenticateCheckWorkflow)
	s.env.RegisterActivityWithOptions(ac, activity.RegisterOptions{Name: registry.ActivityPrefix(authenticate.Name)})
	s.env.RegisterActivity(sa)
	s.searchUpdates, s.reads, s.readResults, s.reportsAsked, s.stored, s.storeErrs, s.updates, s.recorded =
		nil, 0, []activities.AuthenticateResult{complete}, 0, nil, nil, nil, nil
	s.initiated = []string{"rep-1", "rep-2", "rep-3"}
	s.pdfAPI, s.apiSays = map[string]string{}, map[string]string{}

	s.env.OnActivity(authActivity(ac.OrderAuthenticateCheck), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AuthenticateCheckInput) (activities.AuthenticateOrderInput, error) {
			return activities.AuthenticateOrderInput{CheckID: in.CheckID, UserAccessCode: "uac-1", SexOffender: in.SexOffender}, nil
		}).Once()
	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckEventInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.recorded = append(s.recorded, in)
			return nil
		}).Maybe()
	s.env.OnActivity(sa.UpdateCheck, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckUpdateInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.updates = append(s.updates, in)
			return nil
		})
	s.env.OnActivity(authActivity(ac.RecordSearchUpdate), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SearchUpdateInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.searchUpdates = append(s.searchUpdates, in)
			return nil
		}).Maybe()
	readResult := func(context.Context, activities.AuthenticateOrderInput) (activities.AuthenticateResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		r := s.readResults[min(s.reads, len(s.readResults)-1)]
		s.reads++
		return r, nil
	}
	initiate := func(context.Context, activities.AuthenticateOrderInput) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reportsAsked++
		return s.initiated[s.reportsAsked-1], nil
	}
	readPDF := func(_ context.Context, in activities.ReportRef) (activities.AuthenticatePDF, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		status, pinned := s.apiSays[in.ReportUUID]
		if !pinned {
			status = s.pdfAPI[in.ReportUUID]
		}
		return activities.AuthenticatePDF{ReportUUID: in.ReportUUID, Status: status}, nil
	}
	storeReport := func(_ context.Context, in activities.ReportRef) (activities.DocumentRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stored = append(s.stored, in)
		if len(s.storeErrs) >= len(s.stored) && s.storeErrs[len(s.stored)-1] != nil {
			return activities.DocumentRef{}, s.storeErrs[len(s.stored)-1]
		}
		return activities.DocumentRef{DocumentID: "doc-" + in.ReportUUID, SHA256: "sha", Size: 7}, nil
	}
	s.env.OnActivity(authActivity(ac.ReadAuthenticateResult), mock.Anything, mock.Anything).Return(readResult).Maybe()
	s.env.OnActivity(authActivity(ac.InitiateAuthenticatePDF), mock.Anything, mock.Anything).Return(initiate).Maybe()
	s.env.OnActivity(authActivity(ac.ReadAuthenticatePDF), mock.Anything, mock.Anything).Return(readPDF).Maybe()
	s.env.OnActivity(authActivity(ac.StoreAuthenticateReport), mock.Anything, mock.Anything).Return(storeReport).Maybe()
	// The combined steps, as activities/steps.go runs them, over the same doubles.
	s.env.OnActivity(authActivity(ac.LookAndRequestAuthenticatePDF), mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.AuthenticateOrderInput) (activities.AuthenticateLook, error) {
			r, _ := readResult(ctx, in)
			look := activities.AuthenticateLook{Result: r}
			if r.CriminalComplete && r.SexOffenderComplete {
				look.ReportUUID, _ = initiate(ctx, in)
				look.ReportRequested = true
			}
			return look, nil
		}).Maybe()
	s.env.OnActivity(authActivity(ac.ReadAndStoreAuthenticateReport), mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.ReportRef) (activities.AuthenticateReportRead, error) {
			report, _ := readPDF(ctx, in)
			read := activities.AuthenticateReportRead{Report: report}
			if report.ReportUUID != in.ReportUUID || !authenticate.Is(report.Status, authenticate.PDFCompleted) {
				return read, nil
			}
			doc, err := storeReport(ctx, in)
			if err != nil {
				return read, err
			}
			read.Document = &doc
			return read, nil
		}).Maybe()
}

func (s *authenticateCheckSuite) signalAt(delay time.Duration, events ...AuthenticateEvent) {
	s.env.RegisterDelayedCallback(func() { s.signal(events...) }, delay)
}

// signal sends events; the API shows the stage a report's event says from then on.
func (s *authenticateCheckSuite) signal(events ...AuthenticateEvent) {
	for _, ev := range events {
		if ev.Type == authenticate.EventPDFReportGeneration {
			s.mu.Lock()
			s.pdfAPI[ev.ReportUUID] = ev.Status
			s.mu.Unlock()
		}
		s.env.SignalWorkflow(AuthenticateEventSignal, ev)
	}
}

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func searchEvent(id, uid, status, sub string, at time.Duration) AuthenticateEvent {
	return AuthenticateEvent{EventID: id, Type: authenticate.EventCriminalStatusUpdate, OccurredAt: t0.Add(at),
		Search: &authenticate.Search{UniqueIdentifier: uid, SearchType: "COUNTY_CRIMINAL", SearchStatus: status, SearchSubStatus: sub}}
}

func allComplete(id string, at time.Duration) AuthenticateEvent {
	return AuthenticateEvent{EventID: id, Type: authenticate.EventAllCriminalComplete, OccurredAt: t0.Add(at)}
}

func reportEvent(id, uuid, stage string, at time.Duration) AuthenticateEvent {
	return AuthenticateEvent{EventID: id, Type: authenticate.EventPDFReportGeneration, OccurredAt: t0.Add(at),
		ReportUUID: uuid, Status: stage}
}

func (s *authenticateCheckSuite) run(opts AuthenticateOptions) CheckResult {
	raw, err := json.Marshal(opts)
	s.Require().NoError(err)
	s.env.ExecuteWorkflow(AuthenticateCheckWorkflow, CheckInput{
		ScreeningID: "scr-1", CheckID: "check-1", Type: "criminal", Options: raw, Timing: testTiming,
	})
	s.Require().True(s.env.IsWorkflowCompleted())
	var r CheckResult
	if err := s.env.GetWorkflowResult(&r); err != nil {
		s.T().Logf("workflow error: %v", err)
	}
	return r
}

func (s *authenticateCheckSuite) TestSearchesUpdatingOutOfOrderThenReport() {
	s.signalAt(time.Hour,
		searchEvent("e3", "s2", authenticate.SearchComplete, "CLEAR", 30*time.Minute),
		searchEvent("e2", "s1", authenticate.SearchInProgress, "", 20*time.Minute),
		searchEvent("e4", "s1", authenticate.SearchComplete, "CLEAR", 40*time.Minute),
		searchEvent("e1", "s1", authenticate.SearchPending, "", 10*time.Minute),
		searchEvent("e5", "s3", authenticate.SearchComplete, "CLEAR", 50*time.Minute),
		allComplete("e6", 55*time.Minute),
	)
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFInitiated, 61*time.Minute),
		reportEvent("p2", "rep-1", authenticate.PDFCompleted, 62*time.Minute))

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(OutcomeClear, r.Outcome)
	s.Equal([]activities.DocumentRef{{DocumentID: "doc-rep-1", SHA256: "sha", Size: 7}}, r.Documents)
	s.Empty(s.searchUpdates, "the relay records search updates with their events (AuthenticateEventNote)")
	s.Equal(1, s.reads, "the API is read once, when all searches are said to be complete")
	s.Require().Len(s.stored, 1)
	s.Equal("rep-1", s.stored[0].ReportUUID)
}

func (s *authenticateCheckSuite) TestAllCompleteBeforeTheLastStatusUpdate() {
	s.readResults = []activities.AuthenticateResult{
		{CriminalComplete: false, SexOffenderComplete: true, Searches: 2},
		{CriminalComplete: true, SexOffenderComplete: true, Searches: 2, RecordsFound: 1},
	}
	s.signalAt(time.Hour, searchEvent("e1", "s1", authenticate.SearchComplete, "CLEAR", 0), allComplete("e-all", 2*time.Minute))
	s.signalAt(3*time.Hour, searchEvent("e2", "s2", authenticate.SearchComplete, "RECORD_FOUND", time.Minute))

	r := s.run(AuthenticateOptions{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(OutcomeRecordFound, r.Outcome)
	s.Equal(2, s.reads, "the early all-complete is checked, found premature, and the last update prompts a new look")
	s.Empty(s.stored, "no report was asked for")
}

func (s *authenticateCheckSuite) TestExpiredLinkRequestsANewReport() {
	s.storeErrs = []error{temporal.NewNonRetryableApplicationError("the report's link has expired", activities.ErrTypeReportLinkExpired, nil)}
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFCompleted, time.Hour))
	s.signalAt(3*time.Hour, reportEvent("p2", "rep-2", authenticate.PDFCompleted, 2*time.Hour))

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(2, s.reportsAsked)
	s.Equal("doc-rep-2", r.Documents[0].DocumentID)
}

func (s *authenticateCheckSuite) TestFailedGenerationThenCompleted() {
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFInitiated, time.Hour),
		reportEvent("p2", "rep-1", authenticate.PDFFailed, time.Hour+time.Minute))
	s.signalAt(3*time.Hour, reportEvent("p3", "rep-2", authenticate.PDFCompleted, 2*time.Hour))

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(2, s.reportsAsked)
	s.Equal("doc-rep-2", r.Documents[0].DocumentID)
}

func (s *authenticateCheckSuite) TestGenerationFailingEveryTimeFailsTheCheckWithTheReason() {
	s.signalAt(time.Hour, allComplete("e-all", 0))
	for i, uuid := range []string{"rep-1", "rep-2", "rep-3"} {
		s.signalAt(time.Duration(2+i)*time.Hour, reportEvent("f-"+uuid, uuid, authenticate.PDFFailed, time.Duration(i)*time.Hour))
	}

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusFailed, r.Status)
	s.Contains(r.FailureReason, "PDF report generation failed 3 times")
	s.Equal(3, s.reportsAsked)
}

func (s *authenticateCheckSuite) TestDuplicateEventsHaveOneEffect() {
	done := reportEvent("p2", "rep-1", authenticate.PDFCompleted, time.Hour)
	update := searchEvent("e1", "s1", authenticate.SearchComplete, "CLEAR", 0)
	s.signalAt(time.Hour, update, update, allComplete("e-all", time.Minute), allComplete("e-all", time.Minute))
	s.signalAt(2*time.Hour, done, done)
	s.signalAt(3*time.Hour, done)

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(1, s.reads)
	s.Len(s.stored, 1)
}

func (s *authenticateCheckSuite) TestNoWebhooksPollsTheSearchesAndTheReport() {
	polls := 0
	s.env.OnActivity(authActivity(ac.PollAuthenticateResult), mock.Anything, mock.Anything).Return(
		func(context.Context, activities.AuthenticateOrderInput) (activities.AuthenticateResult, error) {
			polls++
			if polls < 3 {
				return activities.AuthenticateResult{}, temporal.NewApplicationError("pending", activities.ErrTypeNotReady)
			}
			return complete, nil
		})
	s.env.OnActivity(authActivity(ac.PollAuthenticatePDF), mock.Anything, mock.Anything).Return(
		activities.AuthenticatePDF{ReportUUID: "rep-1", Status: authenticate.PDFCompleted}, nil).Once()
	start := s.env.Now()

	r := s.run(AuthenticateOptions{PDFReport: true, SexOffender: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(3, polls)
	s.Require().Len(s.stored, 1)
	s.GreaterOrEqual(s.env.Now().Sub(start), 2*testTiming.WebhookDeadline, "both waits reached their deadline")
}

func (s *authenticateCheckSuite) TestSexOffenderCheckIsWaitedFor() {
	s.readResults = []activities.AuthenticateResult{
		{CriminalComplete: true, SexOffenderComplete: false, Searches: 3},
		{CriminalComplete: true, SexOffenderComplete: true, Searches: 4},
	}
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, AuthenticateEvent{EventID: "soc", Type: authenticate.EventSexOffenderStatusUpdate,
		OccurredAt: t0.Add(time.Hour), Search: &authenticate.Search{UniqueIdentifier: "soc-1", SearchType: "SEX_OFFENDER",
			SearchStatus: authenticate.SearchComplete, SearchSubStatus: "CLEAR"}})

	r := s.run(AuthenticateOptions{SexOffender: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(2, s.reads)
}

// parsed is the signal the relay makes of a webhook body: the provider's Translate keeps
// ParseEvent's Summary.
func (s *authenticateCheckSuite) parsed(body string) AuthenticateEvent {
	ev, err := authenticate.ParseEvent([]byte(body))
	s.Require().NoError(err)
	return ev.Summary()
}

// timelineHas reports whether the timeline entry written under dedupeKey says every part.
func (s *authenticateCheckSuite) timelineHas(dedupeKey string, parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.recorded {
		if e.Timeline.DedupeKey != dedupeKey {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(e.Timeline.Detail, p) {
				return false
			}
		}
		return true
	}
	return false
}

func (s *authenticateCheckSuite) TestEventsSharingOneIDAllTakeEffect() {
	// Every sample in Authenticate's documentation shows "id": "string": nothing says the id is
	// unique per event. Two updates of different searches and the all-complete share one here.
	update := func(search, at string) AuthenticateEvent {
		return s.parsed(fmt.Sprintf(`{"id":"string","event":"CRIMINAL_REQUEST_STATUS_UPDATE","eventDate":%q,
			"order":{"userAccessCode":"uac-1","orderDetails":{"unique_identifier":%q,"search_type":"COUNTY_CRIMINAL",
			"search_status":"COMPLETE","search_sub_status":"CLEAR"}}}`, at, search))
	}
	first, second := update("s1", "2026-11-01T09:10:00.000Z"), update("s2", "2026-11-01T09:11:00.000Z")
	s.signalAt(time.Hour, first, second,
		s.parsed(`{"id":"string","event":"ALL_CRIMINAL_REQUESTS_COMPLETE","eventDate":"2026-11-01T09:12:00.000Z",
			"order":{"userAccessCode":"uac-1"}}`))
	start := s.env.Now()

	r := s.run(AuthenticateOptions{})
	s.Equal(store.StatusCompleted, r.Status)
	s.NotEqual(AuthenticateEventNote(first).DedupeKey, AuthenticateEventNote(second).DedupeKey,
		"both updates are recorded, under keys of their own")
	s.Equal(1, s.reads, "the all-complete prompted the look")
	s.Less(s.env.Now().Sub(start), testTiming.WebhookDeadline, "the events completed the check, not polling")
}

func (s *authenticateCheckSuite) TestMonitoringRecordFoundTheAPIDoesNotShowChangesNothing() {
	s.signalAt(time.Hour, AuthenticateEvent{EventID: "m1", Type: authenticate.EventMonitoringRecordFound, OccurredAt: t0})
	s.signalAt(2*time.Hour, allComplete("e-all", time.Hour))

	r := s.run(AuthenticateOptions{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(OutcomeClear, r.Outcome, "an unsigned notice the API does not back flags nobody")
	s.True(s.timelineHas("authenticate:m1", authenticate.EventMonitoringRecordFound, "not confirmed"))
}

func (s *authenticateCheckSuite) TestMonitoringRecordFoundConfirmedByTheAPIWhileTheReportIsMade() {
	// The searches are read clear; the monitoring notice comes while the report is being made,
	// and the API, read again, shows the record.
	s.readResults = []activities.AuthenticateResult{complete,
		{CriminalComplete: true, SexOffenderComplete: true, Searches: 3, RecordsFound: 1}}
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, AuthenticateEvent{EventID: "m1", Type: authenticate.EventMonitoringRecordFound, OccurredAt: t0.Add(time.Hour)})
	s.signalAt(3*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFCompleted, 2*time.Hour))

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(OutcomeRecordFound, r.Outcome)
	s.Equal(2, s.reads)
	s.True(s.timelineHas("authenticate:m1", authenticate.EventMonitoringRecordFound, "confirmed"))
	s.False(s.timelineHas("authenticate:m1", "not confirmed"))
}

func (s *authenticateCheckSuite) TestReportUUIDTakenFromTheEventsWhenTheRequestAnswersNone() {
	s.initiated = []string{""}
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-9", authenticate.PDFInitiated, time.Hour),
		reportEvent("p2", "rep-9", authenticate.PDFCompleted, time.Hour+time.Minute))
	start := s.env.Now()

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Require().Len(s.stored, 1)
	s.Equal("rep-9", s.stored[0].ReportUUID)
	s.Equal(1, s.reportsAsked)
	s.Less(s.env.Now().Sub(start), testTiming.WebhookDeadline, "no wait for the deadline, let alone 60 days of polling")
}

func (s *authenticateCheckSuite) TestAFailedEventNamesTheReportWhenTheRequestAnswersNone() {
	// INITIATED is informational (AuthenticateEventInformational): the relay keeps it from the
	// workflow, so a FAILED event must name the report the request did not.
	s.initiated = []string{"", "rep-2"}
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFFailed, time.Hour))
	s.signalAt(3*time.Hour, reportEvent("p2", "rep-2", authenticate.PDFCompleted, 2*time.Hour))
	start := s.env.Now()

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(2, s.reportsAsked, "the failed report was followed and confirmed, and a new one requested")
	s.Require().Len(s.stored, 1)
	s.Equal("rep-2", s.stored[0].ReportUUID)
	s.Less(s.env.Now().Sub(start), testTiming.WebhookDeadline, "no wait for the deadline")
}

func (s *authenticateCheckSuite) TestStatusLiteralsInAnotherCaseOrSpelling() {
	s.readResults = []activities.AuthenticateResult{
		{CriminalComplete: false, SexOffenderComplete: true, Searches: 2},
		{CriminalComplete: true, SexOffenderComplete: true, Searches: 2},
	}
	s.signalAt(time.Hour, allComplete("e-all", 0))
	// "Completed" for a search (the docs say COMPLETE) and "completed" for a report stage.
	s.signalAt(2*time.Hour, searchEvent("e1", "s1", "Completed", "clear", time.Minute))
	s.signalAt(3*time.Hour, reportEvent("p1", "rep-1", "completed", 2*time.Hour))
	start := s.env.Now()

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(2, s.reads, "the completed search prompted the second look")
	s.Require().Len(s.stored, 1)
	s.Less(s.env.Now().Sub(start), testTiming.WebhookDeadline, "no polling")
}

func (s *authenticateCheckSuite) TestAFailedEventIsConfirmedBeforeTheReportCountsAsFailed() {
	s.signalAt(time.Hour, allComplete("e-all", 0))
	// Anyone holding the URL could send this FAILED: the API still shows the report being made.
	s.apiSays["rep-1"] = authenticate.PDFInitiated
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFFailed, time.Hour))
	s.env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		delete(s.apiSays, "rep-1")
		s.mu.Unlock()
		s.signal(reportEvent("p2", "rep-1", authenticate.PDFCompleted, 2*time.Hour))
	}, 3*time.Hour)

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(1, s.reportsAsked, "no new report for a failure the API does not confirm")
	s.Require().Len(s.stored, 1)
	s.Equal("rep-1", s.stored[0].ReportUUID)
	s.True(s.timelineHas("report.unconfirmed:p1", "FAILED", "does not confirm"))
}

func (s *authenticateCheckSuite) TestAFailedEventTheAPIConfirmsRequestsANewReport() {
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", "Failed", time.Hour))
	s.signalAt(3*time.Hour, reportEvent("p2", "rep-2", authenticate.PDFCompleted, 2*time.Hour))

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(2, s.reportsAsked)
	s.Equal("doc-rep-2", r.Documents[0].DocumentID)
}

func (s *authenticateCheckSuite) TestAForgedCompletedIsNotDownloadedFrom() {
	s.signalAt(time.Hour, allComplete("e-all", 0))
	s.apiSays["rep-1"] = authenticate.PDFInitiated
	s.signalAt(2*time.Hour, reportEvent("p1", "rep-1", authenticate.PDFCompleted, time.Hour))
	s.env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		delete(s.apiSays, "rep-1")
		s.mu.Unlock()
		s.signal(reportEvent("p2", "rep-1", authenticate.PDFCompleted, 2*time.Hour))
	}, 3*time.Hour)

	r := s.run(AuthenticateOptions{PDFReport: true})
	s.Equal(store.StatusCompleted, r.Status)
	s.Len(s.stored, 1, "the report is fetched once the API confirms it")
	s.True(s.timelineHas("report.unconfirmed:p1", "COMPLETED", "does not confirm"))
}
