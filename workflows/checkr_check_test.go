package workflows

import (
	"context"
	"encoding/json"
	"slices"
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
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var ck *activities.Checkr

type checkrCheckSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu             sync.Mutex // the test suite runs activities on goroutines of their own
	awaiting       []bool     // SetAwaitingCredentialing calls
	candidateAfter []bool     // for each candidate creation: was the check still shown awaiting?
	orderedModes   []string   // the mode of each order placed
	stored         []string
	downloadErrs   int // how many downloads fail with an expired download_uri first
	updates        []activities.CheckUpdateInput
	report         activities.CheckrReportSummary
	reportLater    *activities.CheckrReportSummary // what reads after the first answer, if set
	fetches        int
	actions        []bool // SetActionRequired calls
	eventEntries   []activities.TimelineInput
}

func TestCheckrCheckWorkflow(t *testing.T) { suite.Run(t, new(checkrCheckSuite)) }

func (s *checkrCheckSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(CheckrCheckWorkflow)
	s.env.RegisterActivityWithOptions(ck, activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)})
	s.env.RegisterActivityWithOptions(cka, activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)})
	s.env.RegisterActivity(sa)
	s.awaiting, s.candidateAfter, s.orderedModes, s.stored, s.downloadErrs, s.updates = nil, nil, nil, nil, 0, nil
	s.reportLater, s.fetches, s.actions, s.eventEntries = nil, 0, nil, nil
	s.report = activities.CheckrReportSummary{Status: "complete", Result: "clear", Assessment: "eligible",
		DocumentIDs: []string{"doc-1", "doc-2"}}

	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckEventInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if strings.HasPrefix(in.Timeline.DedupeKey, "checkr:") {
				s.eventEntries = append(s.eventEntries, in.Timeline)
			}
			return nil
		}).Maybe()
	s.env.OnActivity(sa.UpdateCheck, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckUpdateInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.updates = append(s.updates, in)
			return nil
		})
	s.env.OnActivity(checkrActivity(ck.SetAwaitingCredentialing), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AwaitingCredentialingInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.awaiting = append(s.awaiting, in.Awaiting)
			return nil
		}).Maybe()
	s.env.OnActivity(checkrActivity(ck.SetActionRequired), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ActionRequiredInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.actions = append(s.actions, in.Required)
			return nil
		}).Maybe()
	s.env.OnActivity(checkrActivity(ck.OrderCheckr), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrOrderInput) (activities.CheckrOrdered, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.candidateAfter = append(s.candidateAfter, len(s.awaiting) > 0 && s.awaiting[len(s.awaiting)-1])
			s.orderedModes = append(s.orderedModes, in.Mode)
			if in.Mode == activities.CheckrModeInvitation {
				return activities.CheckrOrdered{CandidateID: "cand-1", InvitationID: "inv-1"}, nil
			}
			return activities.CheckrOrdered{CandidateID: "cand-1", ReportID: "rep-1"}, nil
		}).Maybe()
	// Reading the report takes a minute, in which events may come.
	s.env.OnActivity(checkrActivity(ck.FetchCheckrReport), mock.Anything, mock.Anything).Return(
		func(context.Context, activities.CheckrReportRef) (activities.CheckrReportSummary, error) {
			return s.fetchReport(), nil
		}).After(time.Minute).Maybe()
	s.env.OnActivity(checkrActivity(ck.StoreCheckrDocument), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrDocumentInput) (activities.DocumentRef, error) {
			return s.storeDocument(in.DocumentID)
		}).Maybe()
	// ReadCheckrReport does what the two above do, as activities.Checkr does.
	s.env.OnActivity(checkrActivity(ck.ReadCheckrReport), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrReportReadInput) (activities.CheckrReportRead, error) {
			read := activities.CheckrReportRead{Report: s.fetchReport()}
			if read.Report.Status == checkr.ReportCanceled || (read.Report.Status != checkr.ReportComplete && in.CanceledByEvent) {
				return read, nil
			}
			for _, id := range read.Report.DocumentIDs {
				if slices.Contains(in.Stored, id) {
					continue
				}
				doc, err := s.storeDocument(id)
				if err != nil {
					return read, err
				}
				read.Documents, read.StoredIDs = append(read.Documents, doc), append(read.StoredIDs, id)
			}
			return read, nil
		}).After(time.Minute).Maybe()
}

func (s *checkrCheckSuite) fetchReport() activities.CheckrReportSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	if s.fetches > 1 && s.reportLater != nil {
		return *s.reportLater
	}
	return s.report
}

func (s *checkrCheckSuite) storeDocument(id string) (activities.DocumentRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downloadErrs > 0 {
		s.downloadErrs--
		return activities.DocumentRef{}, temporal.NewApplicationError("the download_uri expired", "DownloadExpired")
	}
	s.stored = append(s.stored, id)
	return activities.DocumentRef{DocumentID: "stored-" + id, SHA256: "sha", Size: 3}, nil
}

func reportEv(id, typ, status string, at time.Duration) CheckrEvent {
	return CheckrEvent{EventID: id, Type: typ, CreatedAt: t0.Add(at), ObjectID: "rep-1", ObjectType: "report", Status: status}
}

func (s *checkrCheckSuite) signalAt(delay time.Duration, events ...CheckrEvent) {
	s.env.RegisterDelayedCallback(func() {
		for _, ev := range events {
			s.env.SignalWorkflow(CheckrEventSignal, ev)
		}
	}, delay)
}

func (s *checkrCheckSuite) accountSaysAt(delay time.Duration, status store.CheckrAccountStatus) {
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(CheckrAccountStateSignal, CheckrAccountState{AccountID: "acct-1", Status: status})
	}, delay)
}

// integrated sets up a check on integrated account acct-1, whose status Postgres has when the
// check subscribes. The check unsubscribes when it ends. No account workflow needs to run: a
// signal to one would fail the test, which mocks none.
func (s *checkrCheckSuite) integrated(status store.CheckrAccountStatus) {
	s.env.OnActivity(checkrActivity(cka.SubscribeCheckrAccount), mock.Anything, mock.MatchedBy(func(in activities.CheckrSubscriptionInput) bool {
		return in.AccountID == "acct-1" && in.WorkflowID != ""
	})).Return(status, nil).Once()
	s.env.OnActivity(checkrActivity(cka.UnsubscribeCheckrAccount), mock.Anything, mock.MatchedBy(func(in activities.CheckrUnsubscriptionInput) bool {
		return in.AccountID == "acct-1" && len(in.WorkflowIDs) == 1
	})).Return(nil).Once()
}

// checkrCheckOrder is what a test orders: the account ("" for the direct one) and the mode
// (report unless said).
type checkrCheckOrder struct {
	AccountID string
	Mode      string
}

func (s *checkrCheckSuite) run(order checkrCheckOrder) CheckResult {
	if order.Mode == "" {
		order.Mode = activities.CheckrModeReport
	}
	opts, err := json.Marshal(CheckrOptions{Package: "tasker_standard", Mode: order.Mode, Account: order.AccountID})
	s.Require().NoError(err)
	s.env.ExecuteWorkflow(CheckrCheckWorkflow, CheckInput{ScreeningID: "scr-1", CheckID: "check-1", TenantID: "tenant-1",
		Type: "tasker_standard", Options: opts, AccountID: order.AccountID, Timing: testTiming})
	s.Require().True(s.env.IsWorkflowCompleted())
	var r CheckResult
	if err := s.env.GetWorkflowResult(&r); err != nil {
		s.T().Logf("workflow error: %v", err)
	}
	return r
}

func (s *checkrCheckSuite) TestDirectReportCompletesWithEveryDocument() {
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCreated, "pending", 0), reportEv("e2", checkr.EventReportCompleted, "complete", time.Hour))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("clear", r.Outcome)
	s.Equal([]string{"doc-1", "doc-2"}, s.stored)
	s.Len(r.Documents, 2)
}

func (s *checkrCheckSuite) TestChecksWaitForTheAccountToBeCredentialed() {
	s.integrated(store.CheckrAwaitingCredentialing)
	s.accountSaysAt(time.Minute, store.CheckrAwaitingCredentialing)
	s.env.RegisterDelayedCallback(func() {
		res, err := s.env.QueryWorkflow(QueryStatus)
		s.Require().NoError(err)
		var st CheckrCheckStatus
		s.Require().NoError(res.Get(&st))
		s.Equal(stageAwaitingCredentialing, st.Stage)
	}, time.Hour)
	s.accountSaysAt(2*time.Hour, store.CheckrCredentialed)
	s.signalAt(3*time.Hour, reportEv("e2", checkr.EventReportCompleted, "complete", time.Hour))

	r := s.run(checkrCheckOrder{AccountID: "acct-1"})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal([]bool{true, false}, s.awaiting, "shown awaiting_credentialing, then not")
	s.Equal([]bool{false}, s.candidateAfter, "nothing is created at Checkr before the account is credentialed")
}

func (s *checkrCheckSuite) TestADeauthorizedAccountIsRefused() {
	s.integrated(store.CheckrDeauthorized)

	r := s.run(checkrCheckOrder{AccountID: "acct-1"})
	s.Equal(store.StatusCanceled, r.Status)
	s.Contains(r.FailureReason, "reconnect")
	s.Empty(s.candidateAfter, "nothing is ordered")
}

func (s *checkrCheckSuite) TestDeauthorizationMidFlightCancelsTheCheck() {
	s.integrated(store.CheckrCredentialed)
	s.accountSaysAt(time.Minute, store.CheckrCredentialed)
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCreated, "pending", 0))
	s.accountSaysAt(2*time.Hour, store.CheckrDeauthorized)

	r := s.run(checkrCheckOrder{AccountID: "acct-1"})
	s.Equal(store.StatusCanceled, r.Status)
	s.Contains(r.FailureReason, "deauthorized")
	s.Empty(s.stored)
	last := s.updates[len(s.updates)-1]
	s.Equal(store.StatusCanceled, last.Status)
	s.Contains(last.FailureReason, "deauthorized")
}

func (s *checkrCheckSuite) TestSuspendedThenResumed() {
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportSuspended, "suspended", time.Hour))
	s.env.RegisterDelayedCallback(func() {
		res, err := s.env.QueryWorkflow(QueryStatus)
		s.Require().NoError(err)
		var st CheckrCheckStatus
		s.Require().NoError(res.Get(&st))
		s.True(st.Suspended)
	}, 90*time.Minute)
	s.signalAt(2*time.Hour, reportEv("e2", checkr.EventReportResumed, "pending", 2*time.Hour))
	s.signalAt(3*time.Hour, reportEv("e3", checkr.EventReportCompleted, "complete", 3*time.Hour))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
}

func (s *checkrCheckSuite) TestReportCanceledAtCheckr() {
	s.report = activities.CheckrReportSummary{Status: "canceled"}
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCanceled, "canceled", time.Hour))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCanceled, r.Status)
	s.Contains(r.FailureReason, "canceled at Checkr")
	s.Empty(s.stored)
}

func (s *checkrCheckSuite) TestAnExpiredDownloadURIIsFetchedAfresh() {
	s.downloadErrs = 1
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCompleted, "complete", time.Hour))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal([]string{"doc-1", "doc-2"}, s.stored, "the retried download succeeded with a fresh uri")
}

func (s *checkrCheckSuite) TestDuplicatesAndReorderedEvents() {
	done := reportEv("e3", checkr.EventReportCompleted, "complete", 2*time.Hour)
	s.signalAt(time.Hour, done, reportEv("e1", checkr.EventReportCreated, "pending", 0), done,
		reportEv("e2", checkr.EventReportUpdated, "pending", time.Hour), done)

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal([]string{"doc-1", "doc-2"}, s.stored, "each document once")
}

func (s *checkrCheckSuite) TestInvitationCompletedThenReport() {
	s.env.OnActivity(checkrActivity(ck.TrackCheckrReport), mock.Anything, mock.MatchedBy(func(r activities.CheckrReportRef) bool {
		return r.ReportID == "rep-1"
	})).Return(nil).Once()
	s.signalAt(time.Hour, CheckrEvent{EventID: "i1", Type: checkr.EventInvitationCompleted, CreatedAt: t0,
		ObjectID: "inv-1", ObjectType: "invitation", Status: "completed", ReportID: "rep-1"})
	s.signalAt(2*time.Hour, reportEv("e1", checkr.EventReportCompleted, "complete", time.Hour))

	r := s.run(checkrCheckOrder{Mode: activities.CheckrModeInvitation})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal([]string{activities.CheckrModeInvitation}, s.orderedModes, "the candidate is invited; no report is ordered")
}

func (s *checkrCheckSuite) TestExpiredInvitationFailsTheCheck() {
	s.signalAt(time.Hour, CheckrEvent{EventID: "i1", Type: checkr.EventInvitationExpired, CreatedAt: t0,
		ObjectID: "inv-1", ObjectType: "invitation", Status: "expired"})

	r := s.run(checkrCheckOrder{Mode: activities.CheckrModeInvitation})
	s.Equal(store.StatusFailed, r.Status)
	s.Contains(r.FailureReason, "expired")
}

func (s *checkrCheckSuite) TestNoWebhookPollsTheReport() {
	polls := 0
	s.env.OnActivity(checkrActivity(ck.PollCheckrReport), mock.Anything, mock.Anything).Return(
		func(context.Context, activities.CheckrReportRef) (activities.CheckrReportSummary, error) {
			polls++
			if polls < 3 {
				return activities.CheckrReportSummary{}, temporal.NewApplicationError("pending", activities.ErrTypeNotReady)
			}
			return s.report, nil
		})

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(3, polls)
}

func (s *checkrCheckSuite) status() CheckrCheckStatus {
	res, err := s.env.QueryWorkflow(QueryStatus)
	s.Require().NoError(err)
	var st CheckrCheckStatus
	s.Require().NoError(res.Get(&st))
	return st
}

// The check subscribes in Postgres: it needs no account workflow running (one that is not used to
// fail it with "the Checkr account's workflow is not running"), and it unsubscribes when it ends.
func (s *checkrCheckSuite) TestTheGateNeedsNoRunningAccountWorkflow() {
	s.integrated(store.CheckrCredentialed)
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCompleted, "complete", time.Hour))

	r := s.run(checkrCheckOrder{AccountID: "acct-1"})
	s.Equal(store.StatusCompleted, r.Status)
	s.Empty(s.awaiting, "a credentialed account is not waited for")
	s.env.AssertExpectations(s.T())
}

// The account's workflow may tell the check a change before the subscription's answer arrives:
// the tell is newer, and wins.
func (s *checkrCheckSuite) TestATellNewerThanTheSubscriptionWins() {
	s.env.OnActivity(checkrActivity(cka.SubscribeCheckrAccount), mock.Anything, mock.Anything).
		Return(store.CheckrCredentialed, nil).After(time.Minute).Once()
	s.env.OnActivity(checkrActivity(cka.UnsubscribeCheckrAccount), mock.Anything, mock.Anything).Return(nil).Once()
	s.accountSaysAt(30*time.Second, store.CheckrDeauthorized)

	r := s.run(checkrCheckOrder{AccountID: "acct-1"})
	s.Equal(store.StatusCanceled, r.Status)
	s.Contains(r.FailureReason, "deauthorized")
	s.Empty(s.candidateAfter, "nothing is ordered")
}

// invitation sets up invitation inv-1, whose polls answer "pending" notReady times, then final.
func (s *checkrCheckSuite) invitation(notReady int, final activities.CheckrInvitationSummary) *int {
	calls := 0
	s.env.OnActivity(checkrActivity(ck.PollCheckrInvitation), mock.Anything, activities.CheckrInvitationRef{InvitationID: "inv-1"}).Return(
		func(context.Context, activities.CheckrInvitationRef) (activities.CheckrInvitationSummary, error) {
			calls++
			if calls <= notReady {
				return activities.CheckrInvitationSummary{}, temporal.NewApplicationError("the invitation is pending", activities.ErrTypeNotReady)
			}
			return final, nil
		}).Maybe()
	return &calls
}

func (s *checkrCheckSuite) tracks(reportID string) {
	s.env.OnActivity(checkrActivity(ck.TrackCheckrReport), mock.Anything, mock.MatchedBy(func(r activities.CheckrReportRef) bool {
		return r.ReportID == reportID
	})).Return(nil).Once()
}

// invitation.completed is lost: past the deadline the invitation is polled, and its report adopted.
func (s *checkrCheckSuite) TestALostInvitationCompletedIsFoundByPolling() {
	polls := s.invitation(2, activities.CheckrInvitationSummary{Status: checkr.InvitationCompleted, ReportID: "rep-1"})
	s.tracks("rep-1")
	s.signalAt(testTiming.WebhookDeadline+4*time.Hour, reportEv("e1", checkr.EventReportCompleted, "complete", 30*time.Hour))

	r := s.run(checkrCheckOrder{Mode: activities.CheckrModeInvitation})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(3, *polls)
	s.env.AssertExpectations(s.T())
}

// Report events route by the candidate, so they reach the check before invitation.completed does
// (or when it never comes): the report they name is the invitation's.
func (s *checkrCheckSuite) TestReportEventsFindTheReportBeforeInvitationCompleted() {
	polls := s.invitation(0, activities.CheckrInvitationSummary{Status: checkr.InvitationExpired})
	s.tracks("rep-1")
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCreated, "pending", time.Hour))
	s.signalAt(2*time.Hour, reportEv("e2", checkr.EventReportCompleted, "complete", 2*time.Hour))

	r := s.run(checkrCheckOrder{Mode: activities.CheckrModeInvitation})
	s.Equal(store.StatusCompleted, r.Status)
	s.Zero(*polls, "no polling: the report event came before the deadline")
	s.env.AssertExpectations(s.T())
}

func (s *checkrCheckSuite) TestAnInvitationFoundDeletedOrExpiredByPollingEndsTheCheck() {
	s.invitation(1, activities.CheckrInvitationSummary{Status: checkr.InvitationDeleted})
	r := s.run(checkrCheckOrder{Mode: activities.CheckrModeInvitation})
	s.Equal(store.StatusCanceled, r.Status)
	s.Contains(r.FailureReason, "deleted")
}

func (s *checkrCheckSuite) TestAnInvitationFoundExpiredByPollingFailsTheCheck() {
	s.invitation(1, activities.CheckrInvitationSummary{Status: checkr.InvitationExpired})
	r := s.run(checkrCheckOrder{Mode: activities.CheckrModeInvitation})
	s.Equal(store.StatusFailed, r.Status)
	s.Contains(r.FailureReason, "expired")
}

// An upgrade that comes while the check reads the report is applied before the check closes: the
// report is read again, its new document stored, and the outcome the screening concludes on is
// the new result.
func (s *checkrCheckSuite) TestAnUpgradeWhileTheReportIsReadIsApplied() {
	s.reportLater = &activities.CheckrReportSummary{Status: "complete", Result: "consider", Assessment: "review",
		DocumentIDs: []string{"doc-1", "doc-2", "doc-3"}}
	var amended []activities.CheckrAmendmentInput
	s.env.OnActivity(checkrActivity(ck.AmendCheckrCheck), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrAmendmentInput) (bool, error) {
			amended = append(amended, in)
			return true, nil
		}).Once()
	s.signalAt(time.Hour, reportEv("e1", checkr.EventReportCompleted, "complete", time.Hour))
	s.signalAt(time.Hour+30*time.Second, reportEv("e2", checkr.EventReportUpgraded, "complete", time.Hour+time.Minute))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("consider", r.Outcome, "the screening concludes on the upgraded result")
	s.Equal([]string{"doc-1", "doc-2", "doc-3"}, s.stored, "each document once, the upgraded report's too")
	s.Len(r.Documents, 3)
	s.Equal(2, s.fetches)
	s.Require().Len(amended, 1)
	s.Equal(activities.CheckrAmendmentInput{CheckID: "check-1", Outcome: "consider", Reason: "Checkr's report after report.upgraded",
		DedupeKey: "checkr.amended:e2", OccurredAt: amended[0].OccurredAt}, amended[0])
}

// A report event older than the report's end (a late report.updated) is recorded and changes
// nothing: the report is not read again.
func (s *checkrCheckSuite) TestAStaleEventAfterTheReportEndedChangesNothing() {
	s.signalAt(time.Hour, reportEv("e2", checkr.EventReportCompleted, "complete", time.Hour))
	s.signalAt(time.Hour+30*time.Second, reportEv("e1", checkr.EventReportUpdated, "pending", 0))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(1, s.fetches)
}

// The relay writes every event's entry (CheckrEventNote); the workflow records only what it made
// of an event, replacing the relay's entry.
func (s *checkrCheckSuite) TestOnlyWhatTheCheckMadeOfAnEventIsRecordedOverTheRelaysNote() {
	s.signalAt(time.Hour, reportEv("e2", checkr.EventReportCompleted, "complete", time.Hour))
	s.signalAt(time.Hour+30*time.Second, reportEv("e1", checkr.EventReportUpdated, "pending", 0))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Require().Len(s.eventEntries, 1, "report.completed said nothing more than its note")
	s.Equal("checkr:e1", s.eventEntries[0].DedupeKey)
	s.Equal("report.updated: pending (ignored: older than the end of the report)", s.eventEntries[0].Detail)
	s.True(s.eventEntries[0].Replaces)
}

// candidate.id_required moves the check to action_required (HR API, timeline, ScreeningStatus)
// until a later report event says Checkr moved on; a stale one does not.
func (s *checkrCheckSuite) TestActionRequiredIsShownUntilCheckrMovesOn() {
	s.env.OnUpsertTypedSearchAttributes(temporal.NewSearchAttributes(SearchAttrScreeningStatus.ValueSet(string(store.StatusActionRequired)))).
		Return(nil).Once()
	s.env.OnUpsertTypedSearchAttributes(temporal.NewSearchAttributes(SearchAttrScreeningStatus.ValueSet(string(store.StatusInProgress)))).
		Return(nil).Once()
	s.signalAt(time.Hour, CheckrEvent{EventID: "c1", Type: checkr.EventCandidateIDRequired, CreatedAt: t0.Add(time.Hour),
		ObjectID: "cand-1", ObjectType: "candidate"})
	s.env.RegisterDelayedCallback(func() { s.True(s.status().ActionRequired) }, 90*time.Minute)
	s.signalAt(2*time.Hour, reportEv("e1", checkr.EventReportUpdated, "pending", 30*time.Minute))
	s.env.RegisterDelayedCallback(func() { s.True(s.status().ActionRequired, "an older event does not clear it") }, 150*time.Minute)
	s.signalAt(3*time.Hour, reportEv("e2", checkr.EventReportUpdated, "pending", 3*time.Hour))
	s.env.RegisterDelayedCallback(func() { s.False(s.status().ActionRequired) }, 210*time.Minute)
	s.signalAt(4*time.Hour, CheckrEvent{EventID: "c2", Type: checkr.EventCandidateDriverLicenseRequired, CreatedAt: t0.Add(2 * time.Hour),
		ObjectID: "cand-1", ObjectType: "candidate"})
	s.signalAt(5*time.Hour, reportEv("e3", checkr.EventReportCompleted, "complete", 5*time.Hour))

	r := s.run(checkrCheckOrder{})
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal([]bool{true, false}, s.actions, "shown, then cleared; the stale request changed nothing")
	s.env.AssertExpectations(s.T())
}
