package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
)

// DocumentKindComplyCubeReport is the kind of the PDF report stored for a ComplyCube check. A
// report stored after the check's outcome changed is of kind "<this>_<16 hex digits of its
// sha256>": one document per report, and the first one kept.
const DocumentKindComplyCubeReport = "complycube_report"

// ComplyCube talks to ComplyCube for the check workflows.
type ComplyCube struct {
	Store  *store.Store
	Client *complycube.Client
}

// CreateClientInput names the check whose candidate becomes a ComplyCube client.
type CreateClientInput struct {
	CheckID    string
	WorkflowID string // where the client's events are routed
}

// CreateClient creates the candidate as a ComplyCube client once per check and routes the
// client's events to the check workflow. It returns the ComplyCube client id. The client carries
// our check id as its externalId, and a client with it is looked up before one is created: a
// retry after the answer was lost (a worker killed between the call and storing the id) adopts
// the client instead of sending the candidate's data to ComplyCube a second time.
func (a *ComplyCube) CreateClient(ctx context.Context, in CreateClientInput) (string, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	if check.ProviderClientID != nil {
		return *check.ProviderClientID, nil
	}
	cl, found, err := a.Client.FindClient(ctx, in.CheckID)
	if err != nil {
		return "", providerError("ComplyCube", err)
	}
	if !found {
		cand, err := a.Store.CandidateForCheck(ctx, in.CheckID)
		if err != nil {
			return "", err
		}
		cl, err = a.Client.CreateClient(ctx, complycube.CreateClientRequest{
			Type:  "person",
			Email: cand.Email,
			PersonDetails: &complycube.PersonDetails{
				FirstName: cand.FirstName, LastName: cand.LastName, DOB: cand.DOB,
			},
			// Our check id, not the candidate's reference: it is not PII and names exactly one check.
			ExternalID: in.CheckID,
		})
		if err != nil {
			return "", providerError("ComplyCube", err)
		}
	}
	subject := complycube.SubjectFor("client", cl.ID)
	if err := a.Store.SetProviderClient(ctx, in.CheckID, complycube.Name, cl.ID, subject, in.WorkflowID); err != nil {
		return "", err
	}
	return cl.ID, nil
}

// CreateCheckInput names the check to create at ComplyCube for an existing client.
type CreateCheckInput struct {
	CheckID    string
	ClientID   string
	CheckType  string
	WorkflowID string
}

// ProviderCheck is ComplyCube's view of a check, without PII.
type ProviderCheck struct {
	ID      string
	Status  string
	Outcome string
}

// CreateCheck creates the ComplyCube check once. A retry after a lost response must not order a
// second check, so before creating it looks for one of the same type on the client, which is
// ours alone (it was created for this check). The route is written before the activity returns;
// an event that overtakes it waits in the inbox until the route exists.
func (a *ComplyCube) CreateCheck(ctx context.Context, in CreateCheckInput) (ProviderCheck, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return ProviderCheck{}, err
	}
	if check.ProviderCheckID != nil {
		return ProviderCheck{ID: *check.ProviderCheckID, Status: "pending"}, nil
	}
	existing, err := a.Client.ListChecks(ctx, in.ClientID)
	if err != nil {
		return ProviderCheck{}, providerError("ComplyCube", err)
	}
	var created *complycube.Check
	for i := range existing {
		if existing[i].Type == in.CheckType {
			created = &existing[i]
			break
		}
	}
	if created == nil {
		c, err := a.Client.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: in.ClientID, Type: in.CheckType})
		if err != nil {
			return ProviderCheck{}, providerError("ComplyCube", err)
		}
		created = &c
	}
	subject := complycube.SubjectFor("check", created.ID)
	if err := a.Store.SetProviderCheck(ctx, in.CheckID, complycube.Name, created.ID, subject, in.WorkflowID); err != nil {
		return ProviderCheck{}, err
	}
	return toProviderCheck(*created), nil
}

// PollComplyCubeCheck reads the check from ComplyCube. While it is pending it fails with
// ErrTypeNotReady, so that the retry policy polls.
func (a *ComplyCube) PollComplyCubeCheck(ctx context.Context, providerCheckID string) (ProviderCheck, error) {
	c, err := a.Client.GetCheck(ctx, providerCheckID)
	if err != nil {
		return ProviderCheck{}, providerError("ComplyCube", err)
	}
	if c.Status != "complete" && c.Status != "failed" {
		return ProviderCheck{}, notReady("check is still " + c.Status)
	}
	return toProviderCheck(c), nil
}

// StoreReportInput names the check whose PDF report is fetched and stored.
type StoreReportInput struct {
	CheckID         string
	ProviderCheckID string
	// Outcome, when set, is the outcome the check completes with once its report is stored: the
	// check is then completed by this activity, as its workflow would complete it next, without
	// waiting for the workflow's next task (and so is the screening, when it was its last check).
	Outcome string
}

// CheckCompletedKey is the dedupe key of a check's "check.completed" timeline entry, which its
// workflow and StoreReport may both write: the second finds it there.
func CheckCompletedKey(checkID string) string { return "check.completed:" + checkID }

// ReportStoredDetail is the timeline detail of a check completed with its report stored.
func ReportStoredDetail(outcome string, doc DocumentRef) string {
	return fmt.Sprintf("outcome %s; report stored (%d bytes, sha256 %s)", outcome, doc.Size, doc.SHA256)
}

// DocumentRef is what travels in workflow history instead of a document's bytes.
type DocumentRef struct {
	DocumentID string
	SHA256     string
	Size       int64
}

// StoreReport downloads the check's PDF report and stores it with its sha256, once.
func (a *ComplyCube) StoreReport(ctx context.Context, in StoreReportInput) (DocumentRef, error) {
	doc, err := a.saveReport(ctx, in, func([]byte) string { return DocumentKindComplyCubeReport })
	if err != nil || in.Outcome == "" {
		return doc, err
	}
	screenings := Screenings{Store: a.Store}
	return doc, screenings.UpdateCheck(ctx, CheckUpdateInput{CheckID: in.CheckID, Status: store.StatusCompleted,
		Outcome: in.Outcome, Timeline: TimelineInput{DedupeKey: CheckCompletedKey(in.CheckID), Kind: "check.completed",
			Detail: ReportStoredDetail(in.Outcome, doc), OccurredAt: time.Now()}})
}

// saveReport downloads the check's PDF report and stores it under the kind kindOf names for its
// bytes; storing a kind again returns the stored document.
func (a *ComplyCube) saveReport(ctx context.Context, in StoreReportInput, kindOf func(data []byte) string) (DocumentRef, error) {
	report, err := a.Client.GetReport(ctx, in.ProviderCheckID)
	if err != nil {
		return DocumentRef{}, providerError("ComplyCube", err)
	}
	if len(report.Data) == 0 {
		return DocumentRef{}, errors.New("complycube: get report: empty report")
	}
	contentType := report.ContentType
	if contentType == "" {
		contentType = "application/pdf"
	}
	doc, err := a.Store.SaveDocument(ctx, in.CheckID, kindOf(report.Data), contentType, report.Data)
	if err != nil {
		return DocumentRef{}, err
	}
	return DocumentRef{DocumentID: doc.ID, SHA256: doc.SHA256, Size: doc.Size}, nil
}

// amendedReportKind names a report stored after the outcome changed by its bytes, so that a retry
// stores it once and a later change stores the next one beside it.
func amendedReportKind(data []byte) string {
	sum := sha256.Sum256(data)
	return DocumentKindComplyCubeReport + "_" + hex.EncodeToString(sum[:8])
}

// AmendCheckInput names a check to read again from ComplyCube, because an event about it came
// after it completed.
type AmendCheckInput struct {
	CheckID string
	Cause   string // the type of the event, for the timeline
}

// Amendment is what reading a completed check again changed.
type Amendment struct {
	// Changed: ComplyCube's outcome differed from the stored one, and is stored now (by this call or
	// by an earlier attempt of it).
	Changed  bool
	Outcome  string       // the new outcome, when Changed
	Key      string       // names the change, for the entries that follow from it
	Document *DocumentRef // the report for the new outcome, when Changed
}

// AmendComplyCubeCheck reads a completed check again from ComplyCube (GET /checks/{id}: an event
// alone never sets an outcome) and, when ComplyCube's outcome differs from the stored one, stores
// it with a timeline entry and then the report for it. A check that did not complete here (it
// failed or was canceled) stays as it ended, and so does one that ComplyCube does not show as
// complete with an outcome. A retry finds the change it made and stores the report once.
func (a *ComplyCube) AmendComplyCubeCheck(ctx context.Context, in AmendCheckInput) (Amendment, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return Amendment{}, err
	}
	if check.Status != store.StatusCompleted || check.ProviderCheckID == nil {
		return Amendment{}, nil
	}
	c, err := a.Client.GetCheck(ctx, *check.ProviderCheckID)
	if err != nil {
		return Amendment{}, providerError("ComplyCube", err)
	}
	current := toProviderCheck(c)
	if current.Status != complycube.StatusComplete || current.Outcome == "" {
		return Amendment{}, nil
	}
	// The provider's update time tells one change from the next, even back to an earlier outcome.
	key := "complycube.amended:" + c.ID + ":" + c.UpdatedAt.UTC().Format(time.RFC3339Nano) + ":" + current.Outcome
	applied, err := a.Store.AmendCheckOutcome(ctx, store.CheckAmendment{
		CheckID: in.CheckID, Outcome: current.Outcome, Reason: "ComplyCube says so after " + in.Cause,
		DedupeKey: key, OccurredAt: c.UpdatedAt,
	})
	if err != nil || !applied {
		return Amendment{}, err
	}
	doc, err := a.saveReport(ctx, StoreReportInput{CheckID: in.CheckID, ProviderCheckID: c.ID}, amendedReportKind)
	if err != nil {
		return Amendment{}, err
	}
	return Amendment{Changed: true, Outcome: current.Outcome, Key: key, Document: &doc}, nil
}

func toProviderCheck(c complycube.Check) ProviderCheck {
	pc := ProviderCheck{ID: c.ID, Status: c.Status}
	if c.Result != nil {
		pc.Outcome = c.Result.Outcome
	}
	return pc
}
