package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// maxCreateBodyBytes bounds a create request: a candidate and ten checks fit in a few KiB.
const maxCreateBodyBytes = 64 << 10

// maxIdempotencyKeyBytes is as long as a key may be; UUIDs and hashes fit many times over.
const maxIdempotencyKeyBytes = 255

// temporalTimeout bounds a call to Temporal made while a client waits for the answer.
const temporalTimeout = 5 * time.Second

// createScreeningRequest is the body of POST /v1/screenings. Each check is read by its
// provider (registry.Provider.ValidateCheck).
type createScreeningRequest struct {
	Candidate candidateRequest  `json:"candidate"`
	Checks    []json.RawMessage `json:"checks" binding:"required,min=1,max=10"`
}

type candidateRequest struct {
	Reference    string `json:"reference" binding:"text,required,max=200"`
	FirstName    string `json:"first_name" binding:"text,required,max=200"`
	LastName     string `json:"last_name" binding:"text,required,max=200"`
	Email        string `json:"email" binding:"text,required,max=254,email"`
	DOB          string `json:"dob" binding:"text,required,datetime=2006-01-02,birthdate"`
	AddressLine1 string `json:"address_line1" binding:"text,max=200"`
	AddressLine2 string `json:"address_line2" binding:"text,max=200"`
	City         string `json:"city" binding:"text,max=200"`
	State        string `json:"state" binding:"text,max=200"`
	PostalCode   string `json:"postal_code" binding:"text,max=20"`
	Country      string `json:"country" binding:"omitempty,text,iso3166_1_alpha3"`
}

// orderedCheck is a check as its provider validated it.
type orderedCheck struct {
	Provider string          `json:"provider"`
	Type     string          `json:"type"`
	Options  json.RawMessage `json:"options,omitempty"`
	Account  string          `json:"account,omitempty"`
}

// screeningOrder is a validated request. Its JSON encoding is what the Idempotency-Key's request
// hash is computed over: the order as stored, whatever the order of the request's keys.
type screeningOrder struct {
	Candidate candidateRequest `json:"candidate"`
	Checks    []orderedCheck   `json:"checks"`
}

// init teaches gin's validator our rules and to name fields by their JSON names, so that a
// validation error can point at "candidate.email" rather than at a Go field.
func init() {
	v := binding.Validator.Engine().(*validator.Validate)
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return name
	})
	if err := v.RegisterValidation("birthdate", isBirthDate); err != nil {
		panic(err)
	}
	if err := v.RegisterValidation("text", func(fl validator.FieldLevel) bool { return isText(fl.Field().String()) }); err != nil {
		panic(err)
	}
}

// isText accepts valid UTF-8 without control characters: a NUL byte cannot be stored in Postgres
// text, and no name, address or key needs a control character.
func isText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// isBirthDate accepts a YYYY-MM-DD date from 1900-01-01 to yesterday (UTC).
func isBirthDate(fl validator.FieldLevel) bool {
	s := fl.Field().String()
	_, err := time.Parse(time.DateOnly, s)
	// Dates in this format compare as strings.
	return err == nil && s >= "1900-01-01" && s < time.Now().UTC().Format(time.DateOnly)
}

// validateChecks has each check read by its provider. Field errors are keyed by the check's
// path, e.g. "checks[0].type"; an error means a check's JSON does not fit its shape.
func (s *Server) validateChecks(raws []json.RawMessage, fields map[string]string) ([]orderedCheck, error) {
	checks := make([]orderedCheck, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("checks[%d]", i)
		var head struct {
			Provider string `json:"provider"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, checkJSONError{path: path, err: err}
		}
		p, ok := s.cfg.Providers.Get(head.Provider)
		switch {
		case head.Provider == "":
			fields[path+".provider"] = "is required"
			continue
		case !ok:
			fields[path+".provider"] = "must be one of: " + strings.Join(s.cfg.Providers.Names(), ", ")
			continue
		}
		c, errs, err := p.ValidateCheck(raw)
		if err != nil {
			return nil, checkJSONError{path: path, err: err}
		}
		for field, message := range errs {
			fields[path+"."+field] = message
		}
		checks = append(checks, orderedCheck{Provider: head.Provider, Type: c.Type, Options: c.Options, Account: c.AccountID})
	}
	return checks, nil
}

// checkJSONError is a check whose JSON does not fit its provider's shape.
type checkJSONError struct {
	path string
	err  error
}

func (e checkJSONError) Error() string {
	var wrongType *json.UnmarshalTypeError
	if errors.As(e.err, &wrongType) {
		if wrongType.Field == "" {
			return fmt.Sprintf("%s must be a JSON object", e.path)
		}
		return fmt.Sprintf("%s.%s must not be a JSON %s", e.path, wrongType.Field, wrongType.Value)
	}
	return fmt.Sprintf("%s is not valid JSON", e.path)
}

// tenantCheckErrors reports the checks that the tenant's own records make invalid, e.g. a Checkr
// account that is not connected.
func (s *Server) tenantCheckErrors(ctx context.Context, tenantID string, checks []orderedCheck) (map[string]string, error) {
	fields := map[string]string{}
	for i, ch := range checks {
		p, _ := s.cfg.Providers.Get(ch.Provider)
		v, ok := p.(registry.TenantChecks)
		if !ok {
			continue
		}
		errs, err := v.ValidateTenantCheck(ctx, s.store, tenantID,
			registry.Check{Type: ch.Type, Options: ch.Options, AccountID: ch.Account})
		if err != nil {
			return nil, err
		}
		for field, message := range errs {
			fields[fmt.Sprintf("checks[%d].%s", i, field)] = message
		}
	}
	return fields, nil
}

// fieldErrors keys each validation error by the JSON path of its field, e.g. "checks[0].type".
func fieldErrors(errs validator.ValidationErrors) map[string]string {
	fields := make(map[string]string, len(errs))
	for _, fe := range errs {
		// The namespace starts with the request type's name: "createScreeningRequest.candidate.email".
		_, path, _ := strings.Cut(fe.Namespace(), ".")
		if _, seen := fields[path]; !seen {
			fields[path] = fieldMessage(fe)
		}
	}
	return fields
}

func fieldMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "text":
		return "must be text without control characters such as NUL"
	case "datetime":
		return "must be a real date in YYYY-MM-DD format"
	case "birthdate":
		return "must be a date in the past, not before 1900-01-01"
	case "iso3166_1_alpha3":
		return "must be an ISO 3166-1 alpha-3 country code in capitals, e.g. GBR"
	case "min":
		return "must have at least " + fe.Param() + " item(s)"
	case "max":
		if fe.Kind() == reflect.Slice {
			return "must have at most " + fe.Param() + " items"
		}
		return "must be at most " + fe.Param() + " characters"
	default:
		return "is not valid"
	}
}

// createScreening stores a screening and starts its workflow. The Idempotency-Key makes a retried
// request answer with the screening the first one created.
func (s *Server) createScreening(c *gin.Context) {
	req, ok := s.bindCreateScreening(c)
	if !ok {
		return
	}
	tenant := tenantOf(c)
	// json.Marshal cannot fail on strings and the JSON the providers produced.
	canonical, _ := json.Marshal(req)
	hash := sha256.Sum256(canonical)
	n := store.NewScreening{
		TenantID:       tenant.ID,
		IdempotencyKey: c.GetHeader("Idempotency-Key"),
		RequestHash:    hash[:],
		Candidate: store.Candidate{
			Reference: req.Candidate.Reference, FirstName: req.Candidate.FirstName,
			LastName: req.Candidate.LastName, Email: req.Candidate.Email, DOB: req.Candidate.DOB,
			AddressLine1: req.Candidate.AddressLine1, AddressLine2: req.Candidate.AddressLine2,
			City: req.Candidate.City, State: req.Candidate.State, PostalCode: req.Candidate.PostalCode,
			Country: req.Candidate.Country,
		},
	}
	for _, ch := range req.Checks {
		n.Checks = append(n.Checks, store.NewCheck{Provider: ch.Provider, Type: ch.Type, Options: ch.Options,
			CheckrAccountID: ch.Account})
	}

	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	fields, err := s.tenantCheckErrors(ctx, tenant.ID, req.Checks)
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	if len(fields) > 0 {
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, errorBody{Error: "validation_failed",
			Message: "the request has invalid fields", Fields: fields})
		return
	}
	scr, created, err := s.store.CreateScreening(ctx, n)
	switch {
	case errors.Is(err, store.ErrIdempotencyConflict):
		abortWithError(c, http.StatusConflict, "idempotency_conflict",
			"this Idempotency-Key was already used with a different request")
		return
	case err != nil:
		s.log.Error("screening not stored", "tenant_id", tenant.ID, "error", err)
		unavailable(c, "the screening could not be stored; retry later")
		return
	}
	if created {
		s.log.Info("screening created", "tenant_id", tenant.ID, "screening_id", scr.ID, "checks", len(n.Checks))
	} else {
		c.Header("Idempotent-Replayed", "true")
	}
	// A replay starts the workflow too when the first attempt could not; a canceled screening
	// must not start.
	if scr.Status == store.StatusPending && scr.WorkflowStartedAt == nil {
		s.startWorkflow(c.Request.Context(), scr)
	}
	c.Header("Location", screeningPath(scr.ID))
	s.writeScreening(c, http.StatusCreated, tenant.ID, scr.ID)
}

// bindCreateScreening reads and validates the body and the Idempotency-Key, or answers 400, 413
// or 422.
func (s *Server) bindCreateScreening(c *gin.Context) (screeningOrder, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxCreateBodyBytes)
	var req createScreeningRequest
	if err := decodeStrict(c.Request.Body, &req); err != nil {
		abortWithBodyError(c, err)
		return screeningOrder{}, false
	}
	fields := map[string]string{}
	if err := binding.Validator.ValidateStruct(&req); err != nil {
		var invalid validator.ValidationErrors
		if !errors.As(err, &invalid) {
			abortWithBodyError(c, err)
			return screeningOrder{}, false
		}
		fields = fieldErrors(invalid)
	}
	checks, err := s.validateChecks(req.Checks, fields)
	if err != nil {
		abortWithError(c, http.StatusBadRequest, "invalid_json", err.Error())
		return screeningOrder{}, false
	}
	order := screeningOrder{Candidate: req.Candidate, Checks: checks}
	switch key := c.GetHeader("Idempotency-Key"); {
	case len(key) > maxIdempotencyKeyBytes:
		fields["Idempotency-Key"] = fmt.Sprintf("must be at most %d characters", maxIdempotencyKeyBytes)
	case !isText(key):
		fields["Idempotency-Key"] = "must be UTF-8 text without control characters"
	}
	if len(fields) > 0 {
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, errorBody{Error: "validation_failed",
			Message: "the request has invalid fields", Fields: fields})
		return screeningOrder{}, false
	}
	return order, true
}

// errTrailingData is a body with more after its JSON object.
var errTrailingData = errors.New("trailing data")

// decodeStrict decodes one JSON value into v, refusing fields v does not have (a misspelt option
// must not be dropped in silence) and anything after the value.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailingData
	}
	return nil
}

// abortWithBodyError answers a body that could not be decoded, saying where it went wrong.
func abortWithBodyError(c *gin.Context, err error) {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	message := "the body is not valid JSON"
	switch {
	case errors.As(err, &tooLarge):
		abortWithError(c, http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the body is larger than %d bytes", maxCreateBodyBytes))
		return
	case errors.Is(err, io.EOF):
		message = "the body is empty; it must be a JSON object"
	case errors.Is(err, errTrailingData):
		message = "the body has more after its JSON object"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for it; its message names the field.
		message = "the body has a field screenflow does not know: " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		message = "the body ends before its JSON does"
	case errors.As(err, &syntax):
		message = fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", syntax, syntax.Offset)
	case errors.As(err, &wrongType) && wrongType.Field == "":
		message = "the body must be a JSON object"
	case errors.As(err, &wrongType):
		message = fmt.Sprintf("%s must not be a JSON %s", wrongType.Field, wrongType.Value)
	}
	abortWithError(c, http.StatusBadRequest, "invalid_json", message)
}

// startWorkflow starts the screening's workflow now rather than on the relay's next sweep. Its
// failure (Temporal down or slow) does not fail the request: the screening is stored, and the
// sweep starts every stored screening whose workflow has not started.
func (s *Server) startWorkflow(ctx context.Context, scr store.Screening) {
	ctx, cancel := context.WithTimeout(ctx, temporalTimeout)
	defer cancel()
	if err := s.relay.StartScreening(ctx, scr); err != nil {
		s.log.Warn("screening workflow not started; the relay's sweep will start it",
			"screening_id", scr.ID, "workflow_id", workflows.ScreeningWorkflowID(scr.ID), "error", err)
	}
}

// getScreening answers a tenant's screening; the read is recorded in the audit log first.
func (s *Server) getScreening(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	d, ok := s.readScreeningDetail(c, tenantOf(c).ID, id)
	if !ok || !s.recordRead(c, store.AuditScreeningRead, id, nil) {
		return
	}
	c.JSON(http.StatusOK, newScreeningResponse(d))
}

// pathID reads a path parameter that names one of our rows: a UUID in any form uuid.Parse takes
// (upper case, braces, urn:uuid:), used in its canonical form so that a workflow id built from it
// is the workflow's. Anything else names nothing: 404, not a database error.
func pathID(c *gin.Context, name string) (string, bool) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		abortWithError(c, http.StatusNotFound, "not_found", "no such screening or document")
		return "", false
	}
	return id.String(), true
}

// getDocument sends a stored report as an attachment; the download is recorded in the audit log
// first.
func (s *Server) getDocument(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	documentID, ok := pathID(c, "document_id")
	if !ok {
		return
	}
	doc, content, err := s.store.DocumentContent(ctx, tenantOf(c).ID, id, documentID)
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	if !s.recordRead(c, store.AuditDocumentDownloaded, id, &documentID) {
		return
	}
	c.Header("Content-Length", strconv.Itoa(len(content)))
	c.Header("ETag", `"`+doc.SHA256+`"`)
	c.Header("X-Content-SHA256", doc.SHA256)
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.pdf"`, doc.Kind, doc.ID))
	// Reports are about a person: no shared cache may keep them, nor a browser guess their type.
	c.Header("Cache-Control", "private, no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, doc.ContentType, content)
}

// cancelScreening cancels a screening that has not finished. One whose workflow never started is
// canceled in Postgres at once (200). Otherwise the workflow is asked to cancel: it cancels its
// checks and then records the cancellation itself, so the answer is 202 and the status changes
// later. A screening that finishes first keeps its outcome (409).
func (s *Server) cancelScreening(c *gin.Context) {
	tenantID := tenantOf(c).ID
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	scr, ok := s.readScreening(c, tenantID, id)
	if !ok {
		return
	}
	if scr.WorkflowStartedAt == nil && !store.IsTerminal(scr.Status) {
		canceled, ok := s.cancelUnstarted(c, id)
		if !ok {
			return
		}
		if canceled {
			s.log.Info("screening canceled before it started", "tenant_id", tenantID, "screening_id", id)
			s.writeScreening(c, http.StatusOK, tenantID, id)
			return
		}
		// Its workflow started, or it finished, since it was read.
		if scr, ok = s.readScreening(c, tenantID, id); !ok {
			return
		}
	}
	if store.IsTerminal(scr.Status) {
		abortAlreadyFinished(c, scr.Status)
		return
	}

	ctx, cancel := context.WithTimeout(c.Request.Context(), temporalTimeout)
	defer cancel()
	err := s.temporal.CancelWorkflow(ctx, workflows.ScreeningWorkflowID(id), "")
	var gone *serviceerror.NotFound
	if err != nil && !errors.As(err, &gone) {
		s.log.Warn("screening cancel not requested", "screening_id", id, "workflow_id", workflows.ScreeningWorkflowID(id),
			"error", err)
		unavailable(c, "the cancellation could not be requested; retry later")
		return
	}
	// The workflow may have closed before the request reached it: Temporal then accepts the
	// request as a no-op, or answers NotFound once the workflow is gone. A screening it completed
	// or failed keeps that outcome.
	d, ok := s.readScreeningDetail(c, tenantID, id)
	if !ok {
		return
	}
	if d.Status == store.StatusCompleted || d.Status == store.StatusFailed {
		abortAlreadyFinished(c, d.Status)
		return
	}
	s.log.Info("screening cancel requested", "tenant_id", tenantID, "screening_id", id)
	c.JSON(http.StatusAccepted, newScreeningResponse(d))
}

func (s *Server) cancelUnstarted(c *gin.Context, id string) (canceled, ok bool) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	canceled, err := s.store.CancelUnstarted(ctx, id)
	if err != nil {
		s.abortWithStoreError(c, err)
		return false, false
	}
	return canceled, true
}

func abortAlreadyFinished(c *gin.Context, status store.Status) {
	abortWithError(c, http.StatusConflict, "already_finished", "the screening has already finished: it is "+string(status))
}

// readScreening reads a tenant's screening, or answers 404 or 503.
func (s *Server) readScreening(c *gin.Context, tenantID, id string) (store.Screening, bool) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	scr, err := s.store.Screening(ctx, tenantID, id)
	if err != nil {
		s.abortWithStoreError(c, err)
		return scr, false
	}
	return scr, true
}

// writeScreening answers with a tenant's screening as GET shows it.
func (s *Server) writeScreening(c *gin.Context, status int, tenantID, id string) {
	if d, ok := s.readScreeningDetail(c, tenantID, id); ok {
		c.JSON(status, newScreeningResponse(d))
	}
}

// readScreeningDetail reads a tenant's screening with its checks, documents and timeline, or
// answers 404 or 503.
func (s *Server) readScreeningDetail(c *gin.Context, tenantID, id string) (store.ScreeningDetail, bool) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	d, err := s.store.ScreeningDetail(ctx, tenantID, id)
	if err != nil {
		s.abortWithStoreError(c, err)
		return d, false
	}
	return d, true
}

// abortWithStoreError answers 404 for what does not exist or is another tenant's, and 503 when
// Postgres failed.
func (s *Server) abortWithStoreError(c *gin.Context, err error) {
	if errors.Is(err, store.ErrNotFound) {
		abortWithError(c, http.StatusNotFound, "not_found", "no such screening or document")
		return
	}
	s.log.Error("store call failed", "route", c.FullPath(), "error", err)
	unavailable(c, "the request could not be completed; retry later")
}

func screeningPath(id string) string { return "/v1/screenings/" + id }

// screeningResponse is a screening as the HR API shows it. Of the candidate it shows only the
// reference: the HR platform has the rest, and PII is not repeated where it is not needed.
type screeningResponse struct {
	ID          string             `json:"id"`
	Status      store.Status       `json:"status"`
	Result      *string            `json:"result"`
	Candidate   candidateResponse  `json:"candidate"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	CompletedAt *time.Time         `json:"completed_at"`
	Checks      []checkResponse    `json:"checks"`
	Documents   []documentResponse `json:"documents"`
	Timeline    []timelineResponse `json:"timeline"`
	// ErasedAt is when the candidate was erased: the screening then shows no candidate data,
	// documents, searches or timeline details.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

type candidateResponse struct {
	Reference string `json:"reference"`
}

type checkResponse struct {
	ID            string           `json:"id"`
	Provider      string           `json:"provider"`
	Type          string           `json:"type"`
	Options       json.RawMessage  `json:"options"`
	InvitationURL *string          `json:"invitation_url,omitempty"`
	Status        store.Status     `json:"status"`
	Searches      []searchResponse `json:"searches"`
	Outcome       *string          `json:"outcome"`
	FailureReason *string          `json:"failure_reason"`
	CreatedAt     time.Time        `json:"created_at"`
	CompletedAt   *time.Time       `json:"completed_at"`
}

// searchResponse is one of a check's searches at the provider (Authenticate's county and federal
// searches, the sex offender check).
type searchResponse struct {
	UniqueIdentifier string     `json:"unique_identifier"`
	SearchType       string     `json:"search_type"`
	SearchStatus     string     `json:"search_status"`
	SearchSubStatus  string     `json:"search_sub_status"`
	UpdatedAt        *time.Time `json:"updated_at"` // null until the provider has said when
}

type documentResponse struct {
	ID          string `json:"id"`
	CheckID     string `json:"check_id"`
	Kind        string `json:"kind"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	URL         string `json:"url"`
}

type timelineResponse struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	CheckID *string   `json:"check_id"`
	Detail  string    `json:"detail"`
}

func newScreeningResponse(d store.ScreeningDetail) screeningResponse {
	r := screeningResponse{
		ID: d.ID, Status: d.Status, Result: d.Result,
		Candidate: candidateResponse{Reference: d.CandidateReference},
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), CompletedAt: utc(d.CompletedAt),
		ErasedAt: utc(d.ErasedAt),
		// Empty lists are [] rather than null, so clients need not tell the two apart.
		Checks:    make([]checkResponse, 0, len(d.Checks)),
		Documents: make([]documentResponse, 0, len(d.Documents)),
		Timeline:  make([]timelineResponse, 0, len(d.Timeline)),
	}
	for _, ch := range d.Checks {
		cr := checkResponse{
			ID: ch.ID, Provider: ch.Provider, Type: ch.Type, Options: ch.Options, InvitationURL: ch.InvitationURL, Status: ch.Status,
			Searches: []searchResponse{}, Outcome: ch.Outcome, FailureReason: ch.FailureReason,
			CreatedAt: ch.CreatedAt.UTC(), CompletedAt: utc(ch.CompletedAt),
		}
		for _, sr := range d.Searches {
			if sr.CheckID == ch.ID {
				cr.Searches = append(cr.Searches, searchResponse{UniqueIdentifier: sr.UniqueIdentifier,
					SearchType: sr.SearchType, SearchStatus: sr.SearchStatus, SearchSubStatus: sr.SearchSubStatus,
					UpdatedAt: providerTime(sr.ProviderUpdatedAt)})
			}
		}
		r.Checks = append(r.Checks, cr)
	}
	for _, doc := range d.Documents {
		r.Documents = append(r.Documents, documentResponse{
			ID: doc.ID, CheckID: doc.CheckID, Kind: doc.Kind, ContentType: doc.ContentType, Size: doc.Size,
			SHA256: doc.SHA256, URL: screeningPath(d.ID) + "/documents/" + doc.ID,
		})
	}
	for _, e := range d.Timeline {
		r.Timeline = append(r.Timeline, timelineResponse{At: e.OccurredAt.UTC(), Kind: e.Kind, CheckID: e.CheckID,
			Detail: e.Detail})
	}
	return r
}

// providerTime is a time the provider gave, or nil for none: searches known only from our order
// are stored at the Unix epoch so that any provider update is newer.
func providerTime(t time.Time) *time.Time {
	if t.IsZero() || t.Unix() == 0 {
		return nil
	}
	u := t.UTC()
	return &u
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
