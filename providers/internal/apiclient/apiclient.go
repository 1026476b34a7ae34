// Package apiclient is the HTTP core the provider API clients share: request building, JSON in and
// out, error answers, redaction and connection reuse. What differs between providers (how a call
// authenticates, what an error body looks like) stays in each client and reaches the core through
// Request.Auth and the ErrorReader given to New.
//
// Every error names the provider and the call once, "checkr: GET /v1/reports/x: ...", and quotes
// neither a request body, nor a query, nor a credential: bodies carry personal data, queries our ids
// and download links their own token. Nor does an error quote the free text of an error answer: a
// provider refusing a candidate's data may echo it there. An *Error keeps the status and, where the
// provider has one, its machine-readable code; a *TransportError keeps the class of the failure.
//
// Every call is counted and timed (apicalls.Calls) by provider, operation and status, where the
// operation is the method and the route template ("GET /checks/:id"), never a path with ids.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/screenflow/screenflow/metrics/apicalls"
)

const defaultTimeout = 30 * time.Second

// maxDrain bounds what is read of an error answer, and of what a decoder left unread (read only so
// that the connection can be reused).
const maxDrain = 64 << 10

// ErrLinkExpired is returned, wrapped, by Download when a link answers 403 or 410: how presigned
// and expiring links answer once they no longer work.
var ErrLinkExpired = errors.New("link expired")

// ErrorReader reads a provider's error body into the provider's machine-readable code for the error,
// or "" when the body has none. Only a value that looks like an identifier is kept as the code (see
// IsCode): anything else may be free text echoing the request.
type ErrorReader func(body []byte) (code string)

// codePattern is what an error code looks like: lower-case words joined by "_", "." or "-", such as
// "resource_not_found". Names, e-mail addresses and dates do not.
var codePattern = regexp.MustCompile(`^[a-z][a-z0-9]*([_.-][a-z0-9]+)*$`)

// maxCodeLength bounds a code: a longer value is text, not an identifier.
const maxCodeLength = 64

// IsCode reports whether s can be kept as a provider's error code: an identifier, not free text.
func IsCode(s string) bool {
	return len(s) <= maxCodeLength && codePattern.MatchString(s)
}

// Client sends calls to one provider's API. It holds no credential, so it can be shared by clients
// with different keys. It is safe for concurrent use.
type Client struct {
	provider   string
	baseURL    string
	httpClient *http.Client
	readError  ErrorReader
}

// New returns a client for the API at baseURL whose errors start with provider. A nil httpClient
// is replaced by one with a 30 s timeout.
func New(provider, baseURL string, httpClient *http.Client, readError ErrorReader) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultTimeout}
	}
	return &Client{
		provider:   provider,
		baseURL:    strings.TrimRight(baseURL, "/"),
		httpClient: httpClient,
		readError:  readError,
	}
}

// BaseURL is the base URL given to New, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL }

// Request is one API call. Errors name it by Method and Path only.
type Request struct {
	Method string
	Path   string // below the base URL, escaped by the caller
	Query  url.Values
	Body   any                 // sent as JSON unless nil
	Auth   func(*http.Request) // adds the credentials; nil sends none
}

// Do sends r and decodes a 2xx answer into out, unless out is nil. A non-2xx answer is an *Error.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	op := r.Method + " " + r.Path
	operation := r.Method + " " + RouteTemplate(r.Path)
	target := c.baseURL + r.Path
	if len(r.Query) > 0 {
		target += "?" + r.Query.Encode()
	}
	var body io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return c.wrap(op, fmt.Errorf("encode request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, target, body)
	if err != nil {
		return c.wrap(op, redactURL(err))
	}
	// Sent on bodiless calls too: ComplyCube's API asks for it on every call, and others ignore it.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if r.Auth != nil {
		r.Auth(req)
	}
	resp, err := c.send(op, operation, req, c.readError)
	if err != nil {
		return err
	}
	defer drainAndClose(resp)
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return c.wrap(op, fmt.Errorf("decode response: %w", err))
	}
	return nil
}

// Download GETs link, a bearer link such as a report's download link, and returns its body of at
// most limit bytes. The link is its own credential: no Auth goes with it and no error quotes it. op
// names the call in errors and in metrics, so it holds no id: "download report". A 403 or 410 is
// ErrLinkExpired; any other non-2xx answer is an *Error whose body is not read, since whatever
// serves the link is not the provider's API. accept, when not empty, is sent as the Accept header.
func (c *Client) Download(ctx context.Context, op, link, accept string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, c.wrap(op, redactURL(err))
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.send(op, op, req, nil)
	var apiErr *Error
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusForbidden || apiErr.StatusCode == http.StatusGone) {
		return nil, c.wrap(op, fmt.Errorf("HTTP %d: %w", apiErr.StatusCode, ErrLinkExpired))
	}
	if err != nil {
		return nil, err
	}
	defer drainAndClose(resp)
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.wrap(op, fmt.Errorf("read body: %w", err))
	}
	if int64(len(b)) > limit {
		return nil, c.wrap(op, fmt.Errorf("answer larger than %d bytes", limit))
	}
	return b, nil
}

// send sends req, the call op, and returns a 2xx answer, which the caller reads and must
// drainAndClose. Any other answer is an *Error, its code read by readError when there is one; no
// answer at all is a *TransportError. The call is counted under operation, op without its ids.
func (c *Client) send(op, operation string, req *http.Request, readError ErrorReader) (*http.Response, error) {
	start := time.Now()
	resp, err := c.httpClient.Do(req)
	if err != nil {
		class := classify(err)
		apicalls.Calls.ObserveCall(c.provider, operation, strings.ReplaceAll(class, " ", "_"), time.Since(start))
		return nil, &TransportError{Provider: c.provider, Op: op, Class: class, Err: redactURL(err)}
	}
	// Timed to the answer's headers: what the body's reading costs is the caller's.
	apicalls.Calls.ObserveCall(c.provider, operation, strconv.Itoa(resp.StatusCode/100)+"xx", time.Since(start))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp, nil
	}
	defer drainAndClose(resp)
	apiErr := &Error{Provider: c.provider, Op: op, StatusCode: resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	if readError != nil {
		// A body that cannot be read leaves the status code to speak alone.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrain))
		if code := readError(b); IsCode(code) {
			apiErr.Code = code
		}
	}
	return nil, apiErr
}

// RouteTemplate is path with each segment that is not a word replaced by ":id":
// "/v1/reports/4722c07d" becomes "/v1/reports/:id". A word is lower-case letters joined by "_" or
// "-" ("check_reports"), or a version ("v1"): what the providers' routes are made of, while their
// ids (hex, uuids) hold digits. It keeps the operations counted in metrics to the routes called.
func RouteTemplate(path string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		if s != "" && !routeWord.MatchString(s) {
			segments[i] = ":id"
		}
	}
	return strings.Join(segments, "/")
}

var routeWord = regexp.MustCompile(`^([a-z]+([_-][a-z]+)*|v[0-9]+)$`)

// wrap names the provider and the call around an error that is neither an answer nor its absence
// (an *Error or a *TransportError name them themselves).
func (c *Client) wrap(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", c.provider, op, err)
}

func drainAndClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
}

// redactURL keeps only the scheme and host of the URL a *url.Error quotes (http.Client.Do and
// url.Parse return one at the top): the call is named by the op beside it, and the rest of a URL
// can be a link's token or our ids.
func redactURL(err error) error {
	ue, ok := err.(*url.Error)
	if !ok {
		return err
	}
	redacted := *ue
	redacted.URL = "[redacted URL]"
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		redacted.URL = u.Scheme + "://" + u.Host + "/[redacted]"
	}
	return &redacted
}

// Error is a non-2xx answer: "complycube: POST /clients: HTTP 422, code: validation_error". It
// holds nothing of the answer's body but the provider's code, so that no text a provider echoed
// from the request (a candidate's name, e-mail address, date of birth) reaches a failure reason,
// a workflow's history or a log.
type Error struct {
	Provider   string // as given to New
	Op         string // the call, "POST /clients": method and path, never the query
	StatusCode int
	Code       string        // the provider's code for the error, when its body has one (IsCode)
	RetryAfter time.Duration // from the Retry-After header, when present
}

func (e *Error) Error() string {
	s := prefix(e.Provider, e.Op) + e.Reason()
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Operation is the call that was answered, "POST /clients".
func (e *Error) Operation() string { return e.Op }

// Reason is the status and the provider's code: "HTTP 422, code: validation_error".
func (e *Error) Reason() string {
	s := "HTTP " + strconv.Itoa(e.StatusCode)
	if e.Code != "" {
		s += ", code: " + e.Code
	}
	return s
}

// Retryable reports whether trying the same call again may succeed: 408, 429 and 5xx.
func (e *Error) Retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500
}

// TransportError is a call that got no answer: "complycube: POST /clients: timeout". Its text is the
// class of the failure only; the cause it wraps quotes no more of the URL than scheme and host.
type TransportError struct {
	Provider string
	Op       string
	Class    string // "timeout", "connection refused", ...: see classify
	Err      error
}

func (e *TransportError) Error() string { return prefix(e.Provider, e.Op) + e.Class }

func (e *TransportError) Unwrap() error { return e.Err }

// Operation is the call that got no answer, "POST /clients".
func (e *TransportError) Operation() string { return e.Op }

// Reason is the class of the failure.
func (e *TransportError) Reason() string { return e.Class }

// Retryable is true: the provider may answer the next call.
func (e *TransportError) Retryable() bool { return true }

// classify names why a call got no answer, in words that quote nothing of the call.
func classify(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var authorityErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.As(err, &certErr), errors.As(err, &authorityErr), errors.As(err, &hostErr), errors.As(err, &recordErr):
		return "TLS failure"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	default:
		return "network error"
	}
}

func prefix(provider, op string) string {
	s := ""
	if provider != "" {
		s += provider + ": "
	}
	if op != "" {
		s += op + ": "
	}
	return s
}

// retryAfter reads a Retry-After header: delay seconds, or an HTTP date. Anything else is 0.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
