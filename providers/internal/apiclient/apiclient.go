// Package apiclient is the HTTP core the provider API clients share: request building, JSON in and
// out, error answers, redaction and connection reuse. What differs between providers (how a call
// authenticates, what an error body looks like) stays in each client and reaches the core through
// Request.Auth and the ErrorReader given to New.
//
// Every error names the provider and the call once, "checkr: GET /v1/reports/x: ...", and quotes
// neither a request body, nor a query, nor a credential: bodies carry personal data, queries our ids
// and download links their own token.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const defaultTimeout = 30 * time.Second

// maxDrain bounds what is read of an error answer, and of what a decoder left unread (read only so
// that the connection can be reused).
const maxDrain = 64 << 10

// ErrLinkExpired is returned, wrapped, by Download when a link answers 403 or 410: how presigned
// and expiring links answer once they no longer work.
var ErrLinkExpired = errors.New("link expired")

// ErrorReader reads a provider's error body into its error type (a code, where the provider has
// one) and message. A body of any other shape gives "", "": it is not quoted, since it could echo
// the request.
type ErrorReader func(body []byte) (typ, message string)

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
	resp, err := c.send(req, c.readError)
	if err != nil {
		return c.wrap(op, err)
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
// names the call in errors. A 403 or 410 is ErrLinkExpired; any other non-2xx answer is an *Error
// whose body is not read, since whatever serves the link is not the provider's API. accept, when
// not empty, is sent as the Accept header.
func (c *Client) Download(ctx context.Context, op, link, accept string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, c.wrap(op, redactURL(err))
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.send(req, nil)
	var apiErr *Error
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusForbidden || apiErr.StatusCode == http.StatusGone) {
		return nil, c.wrap(op, fmt.Errorf("HTTP %d: %w", apiErr.StatusCode, ErrLinkExpired))
	}
	if err != nil {
		return nil, c.wrap(op, err)
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

// send sends req and returns a 2xx answer, which the caller reads and must drainAndClose. Any
// other answer is an *Error, its body read by readError when there is one.
func (c *Client) send(req *http.Request, readError ErrorReader) (*http.Response, error) {
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, redactURL(err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp, nil
	}
	defer drainAndClose(resp)
	apiErr := &Error{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	if readError != nil {
		// A body that cannot be read leaves the status code to speak alone.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrain))
		apiErr.Type, apiErr.Message = readError(b)
	}
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(resp.StatusCode)
	}
	return nil, apiErr
}

// wrap is the one place an error gets the provider's name and the call's.
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

// Error is a non-2xx answer. Its text is the status and message only ("HTTP 503: Service
// Unavailable"): the client that returns it names the provider and the call around it.
type Error struct {
	StatusCode int
	Type       string        // the provider's code for the error, where its error bodies have one
	Message    string        // the provider's message, or else the status text
	RetryAfter time.Duration // from the Retry-After header, when present
}

func (e *Error) Error() string {
	s := "HTTP " + strconv.Itoa(e.StatusCode)
	if e.Type != "" {
		s += " " + e.Type
	}
	s += ": " + e.Message
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Retryable reports whether trying the same call again may succeed: 408, 429 and 5xx.
func (e *Error) Retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500
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
