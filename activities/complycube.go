package activities

import (
	"context"
	"errors"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
)

// DocumentKindComplyCubeReport is the kind of the PDF report stored for a ComplyCube check.
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
// client's events to the check workflow. It returns the ComplyCube client id.
func (a *ComplyCube) CreateClient(ctx context.Context, in CreateClientInput) (string, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	if check.ProviderClientID != nil {
		return *check.ProviderClientID, nil
	}
	cand, err := a.Store.CandidateForCheck(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	cl, err := a.Client.CreateClient(ctx, complycube.CreateClientRequest{
		Type:  "person",
		Email: cand.Email,
		PersonDetails: &complycube.PersonDetails{
			FirstName: cand.FirstName, LastName: cand.LastName, DOB: cand.DOB,
		},
		// Our check id, not the candidate's reference: it is not PII and names exactly one check.
		ExternalID: in.CheckID,
	})
	if err != nil {
		return "", providerError(err)
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
		return ProviderCheck{}, providerError(err)
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
			return ProviderCheck{}, providerError(err)
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
		return ProviderCheck{}, providerError(err)
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
}

// DocumentRef is what travels in workflow history instead of a document's bytes.
type DocumentRef struct {
	DocumentID string
	SHA256     string
	Size       int64
}

// StoreReport downloads the check's PDF report and stores it with its sha256, once.
func (a *ComplyCube) StoreReport(ctx context.Context, in StoreReportInput) (DocumentRef, error) {
	report, err := a.Client.GetReport(ctx, in.ProviderCheckID)
	if err != nil {
		return DocumentRef{}, providerError(err)
	}
	if len(report.Data) == 0 {
		return DocumentRef{}, errors.New("complycube: get report: empty report")
	}
	contentType := report.ContentType
	if contentType == "" {
		contentType = "application/pdf"
	}
	doc, err := a.Store.SaveDocument(ctx, in.CheckID, DocumentKindComplyCubeReport, contentType, report.Data)
	if err != nil {
		return DocumentRef{}, err
	}
	return DocumentRef{DocumentID: doc.ID, SHA256: doc.SHA256, Size: doc.Size}, nil
}

func toProviderCheck(c complycube.Check) ProviderCheck {
	pc := ProviderCheck{ID: c.ID, Status: c.Status}
	if c.Result != nil {
		pc.Outcome = c.Result.Outcome
	}
	return pc
}
