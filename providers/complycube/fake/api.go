package fake

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/screenflow/screenflow/providers/complycube"
)

const maxRequestBody = 1 << 20

// Error types as ComplyCube's error reference shows them.
const (
	errUnauthorized   = "unauthorized"
	errInvalidRequest = "invalid_request"
	errNotFound       = "resource_not_found"
	errRateLimited    = "rate_limit_exceeded"
	errInternal       = "internal_server_error"
)

// clientObject is a ComplyCube client as the API and client.created show it, personal data included.
type clientObject struct {
	ID            string                    `json:"id"`
	Type          string                    `json:"type"`
	Email         string                    `json:"email"`
	PersonDetails *complycube.PersonDetails `json:"personDetails,omitempty"`
	ExternalID    string                    `json:"externalId,omitempty"`
	CreatedAt     time.Time                 `json:"createdAt"`
	UpdatedAt     time.Time                 `json:"updatedAt"`
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/clients", s.createClient)
	mux.HandleFunc("GET /v1/clients", s.listClients)
	mux.HandleFunc("GET /v1/clients/{id}", s.getClient)
	mux.HandleFunc("DELETE /v1/clients/{id}", s.deleteClient)
	mux.HandleFunc("POST /v1/checks", s.createCheck)
	mux.HandleFunc("GET /v1/checks", s.listChecks)
	mux.HandleFunc("GET /v1/checks/{id}", s.getCheck)
	mux.HandleFunc("GET /v1/reports", s.getReport)
	mux.HandleFunc("POST /v1/webhooks", s.createWebhook)
	mux.HandleFunc("GET /v1/webhooks", s.listWebhooks)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// ServeHTTP serves the API under the /v1 prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.failures.Answer(w, func(status int) { writeError(w, status, errorType(status), "injected failure") }) {
		return
	}
	// A missing header never matches, even when the fake was given no key.
	key := r.Header.Get("Authorization")
	if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.apiKey)) != 1 {
		writeError(w, http.StatusUnauthorized, errUnauthorized, "The 'Authorization' header is invalid")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func errorType(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return errUnauthorized
	case status == http.StatusNotFound:
		return errNotFound
	case status == http.StatusTooManyRequests:
		return errRateLimited
	case status >= 500:
		return errInternal
	default:
		return errInvalidRequest
	}
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	var req complycube.CreateClientRequest
	if !decodeBody(w, r, &req) {
		return
	}
	switch {
	case req.Type != "person":
		// ComplyCube also has companies; screening never creates one.
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'type' must be `person` (the fake has no companies)")
		return
	case req.Email == "":
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'email' must be provided")
		return
	case req.PersonDetails == nil:
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'personDetails' must be provided when client type is `person`")
		return
	case req.PersonDetails.FirstName == "" || req.PersonDetails.LastName == "":
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'personDetails.firstName' and 'personDetails.lastName' must be provided")
		return
	}
	t := now()
	cl := clientObject{
		ID:            newID(),
		Type:          req.Type,
		Email:         req.Email,
		PersonDetails: req.PersonDetails,
		ExternalID:    req.ExternalID,
		CreatedAt:     t,
		UpdatedAt:     t,
	}
	s.mu.Lock()
	s.clients[cl.ID] = cl
	s.sendLocked(newWebhook(complycube.EventClientCreated, complycube.ResourceClient, cl))
	s.mu.Unlock()
	s.log.Info("fake complycube: client created", "client_id", cl.ID)
	// ComplyCube answers creations with 200, not 201.
	writeJSON(w, http.StatusOK, cl)
}

// listClients lists clients, filtered by any externalId given, as ComplyCube's list filters by a
// client's attributes. Oldest first; clients must not rely on the order.
func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	externalID := r.URL.Query().Get("externalId")
	s.mu.Lock()
	matching := []clientObject{}
	for _, cl := range s.clients {
		if externalID == "" || cl.ExternalID == externalID {
			matching = append(matching, cl)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(matching, func(a, b clientObject) int { return a.CreatedAt.Compare(b.CreatedAt) })
	writePage(w, r, matching)
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	cl, ok := s.clients[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("Invalid client id '%s'", id))
		return
	}
	writeJSON(w, http.StatusOK, cl)
}

// deleteClient deletes a client with its checks and their reports, as ComplyCube deletes what it
// holds about the person. A check still pending never completes.
func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, ok := s.clients[id]
	if ok {
		delete(s.clients, id)
		s.deletedClients = append(s.deletedClients, id)
		s.checkOrder = slices.DeleteFunc(s.checkOrder, func(checkID string) bool {
			if s.checks[checkID].ClientID != id {
				return false
			}
			s.timers.StopLocked(checkID)
			delete(s.checks, checkID)
			delete(s.reports, checkID)
			delete(s.held, checkID)
			return true
		})
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("Invalid client id '%s'", id))
		return
	}
	s.log.Info("fake complycube: client deleted", "client_id", id)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) createCheck(w http.ResponseWriter, r *http.Request) {
	var req complycube.CreateCheckRequest
	if !decodeBody(w, r, &req) {
		return
	}
	switch {
	case req.ClientID == "":
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'clientId' must be provided")
		return
	case req.Type == "":
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'type' must be provided")
		return
	case !slices.Contains(complycube.CheckTypes, req.Type):
		writeError(w, http.StatusBadRequest, errInvalidRequest, fmt.Sprintf("'type' %q is not a supported check type", req.Type))
		return
	}
	c, ok := s.addCheck(req)
	if !ok {
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("Invalid client id '%s'", req.ClientID))
		return
	}
	s.log.Info("fake complycube: check created", "check_id", c.ID, "type", c.Type)
	// ComplyCube answers creations with 200, not 201.
	writeJSON(w, http.StatusOK, c)
}

// addCheck creates a pending check on an existing client, announces it and arms its completion.
func (s *Server) addCheck(req complycube.CreateCheckRequest) (complycube.Check, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[req.ClientID]; !ok {
		return complycube.Check{}, false
	}
	t := now()
	c := complycube.Check{
		ID:        newID(),
		ClientID:  req.ClientID,
		Type:      req.Type,
		Status:    complycube.StatusPending,
		CreatedAt: t,
		UpdatedAt: t,
	}
	s.checks[c.ID] = c
	s.checkOrder = append(s.checkOrder, c.ID)
	pending := newWebhook(complycube.EventCheckPending, complycube.ResourceCheck, c)
	if s.reorder {
		s.held[c.ID] = pending
	} else {
		s.sendLocked(pending)
	}
	s.scheduleCompletionLocked(c.ID)
	return c, true
}

func (s *Server) getCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	c, ok := s.checks[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("Invalid check id '%s'", id))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

type listPage[T any] struct {
	Page       int `json:"page"`
	PageSize   int `json:"pageSize"`
	TotalItems int `json:"totalItems"`
	Pages      int `json:"pages"`
	Items      []T `json:"items"`
}

// writePage answers one page of items, as the query's page and pageSize ask.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T) {
	q := r.URL.Query()
	page, err := intParam(q.Get("page"), 1, 1, 1<<30)
	if err != nil {
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'page' "+err.Error())
		return
	}
	pageSize, err := intParam(q.Get("pageSize"), 100, 1, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'pageSize' "+err.Error())
		return
	}
	start := min((page-1)*pageSize, len(items))
	end := min(start+pageSize, len(items))
	writeJSON(w, http.StatusOK, listPage[T]{
		Page:       page,
		PageSize:   pageSize,
		TotalItems: len(items),
		Pages:      (len(items) + pageSize - 1) / pageSize,
		Items:      items[start:end],
	})
}

func (s *Server) listChecks(w http.ResponseWriter, r *http.Request) {
	clientID := r.URL.Query().Get("clientId")
	s.mu.Lock()
	// ComplyCube does not document the order; newest first here, and clients must not rely on it.
	matching := []complycube.Check{}
	for _, id := range slices.Backward(s.checkOrder) {
		if c := s.checks[id]; clientID == "" || c.ClientID == clientID {
			matching = append(matching, c)
		}
	}
	s.mu.Unlock()
	writePage(w, r, matching)
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("checkId")
	if id == "" {
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'checkId' must be provided")
		return
	}
	s.mu.Lock()
	c, found := s.checks[id]
	pdf, ready := s.reports[id]
	s.mu.Unlock()
	switch {
	case !found:
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("Invalid check id '%s'", id))
	case !ready:
		writeError(w, http.StatusNotFound, errNotFound, fmt.Sprintf("No report for check '%s': its status is %s, not complete", id, c.Status))
	default:
		writeJSON(w, http.StatusOK, map[string]string{
			"contentType": "application/pdf",
			"data":        base64.StdEncoding.EncodeToString(pdf),
		})
	}
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

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, errInvalidRequest, "The request body is not valid JSON")
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, typ, message string) {
	writeJSON(w, status, map[string]string{"type": typ, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client may have gone; there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(v)
}
