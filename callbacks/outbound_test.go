package callbacks

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"
)

func TestCheckURLRefusesWhatCallbacksMustNotReach(t *testing.T) {
	production := Policy{}
	for raw, why := range map[string]string{
		"http://hr.example.com/cb":             "https",
		"https://127.0.0.1/cb":                 "not public",
		"https://localhost:8443/cb":            "not public",
		"https://10.1.2.3/cb":                  "not public",
		"https://172.16.0.1/cb":                "not public",
		"https://192.168.1.10/cb":              "not public",
		"https://169.254.169.254/latest":       "not public",
		"https://100.64.0.1/cb":                "not public",
		"https://0.0.0.0/cb":                   "not public",
		"https://[::1]/cb":                     "not public",
		"https://[fd00::1]/cb":                 "not public",
		"https://[fe80::1]/cb":                 "not public",
		"https://[::ffff:127.0.0.1]/cb":        "not public",
		"https://[64:ff9b::a00:1]/cb":          "not public",
		"https://user:pass@hr.example.com/cb":  "credentials",
		"/relative":                            "absolute",
		"https://":                             "absolute",
		"https://hr.example.com/cb#fragment":   "fragment",
		"https://" + strings.Repeat("a", 2100): "at most",
	} {
		err := production.CheckURL(context.Background(), raw)
		require.Error(t, err, raw)
		require.Contains(t, err.Error(), why, raw)
	}
	require.NoError(t, production.CheckURL(context.Background(), "https://93.184.215.14/screenflow"))
	require.NoError(t, production.CheckURL(context.Background(), "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/cb"))

	dev := Policy{AllowHTTP: true, AllowPrivate: true}
	require.NoError(t, dev.CheckURL(context.Background(), "http://localhost:8080/cb"))
	require.NoError(t, dev.CheckURL(context.Background(), "http://10.1.2.3/cb"))
	require.Error(t, dev.CheckURL(context.Background(), "ftp://localhost/cb"))
}

func TestTheClientChecksTheAddressItConnectsTo(t *testing.T) {
	var reached atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)

	// localhost resolves to 127.0.0.1: the name passes no check, the address it resolves to is refused.
	refusing := Policy{AllowHTTP: true}.Client(time.Second)
	for _, target := range []string{"http://localhost:" + port, srv.URL} {
		_, err := refusing.Post(target, "application/json", strings.NewReader("{}"))
		require.ErrorIs(t, err, ErrRefusedAddress, target)
	}
	require.Zero(t, reached.Load())

	allowing := Policy{AllowHTTP: true, AllowPrivate: true}.Client(time.Second)
	resp, err := allowing.Post("http://localhost:"+port, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int32(1), reached.Load())
}

func TestTheClientFollowsNoRedirectAndTimesOut(t *testing.T) {
	var redirected atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/elsewhere":
			redirected.Store(true)
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		}
	}))
	defer srv.Close()
	client := Policy{AllowHTTP: true, AllowPrivate: true}.Client(200 * time.Millisecond)

	resp, err := client.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "the 3xx is the answer")
	require.False(t, redirected.Load())

	_, err = client.Post(srv.URL+"/slow", "application/json", strings.NewReader("{}"))
	var timeout net.Error
	require.True(t, errors.As(err, &timeout) && timeout.Timeout(), "%v", err)
}

func TestSignaturesVerifyWithAnIndependentImplementationUnderEitherSecretOfARotation(t *testing.T) {
	const oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const newSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	body := []byte(`{"id":"msg_1","type":"screening.completed","data":{}}`)
	at := time.Now()
	signature, err := sign([]string{newSecret, oldSecret}, "msg_1", at, body)
	require.NoError(t, err)
	require.Len(t, strings.Split(signature, " "), 2)

	headers := http.Header{}
	headers.Set("webhook-id", "msg_1")
	headers.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	headers.Set("webhook-signature", signature)
	for _, secret := range []string{oldSecret, newSecret} {
		verifier, err := svix.NewWebhook(secret)
		require.NoError(t, err)
		require.NoError(t, verifier.Verify(body, headers))
		require.Error(t, verifier.Verify(append(body, ' '), headers), "a changed body does not verify")
	}
	stranger, err := svix.NewWebhook("whsec_" + strings.Repeat("A", 43) + "=")
	require.NoError(t, err)
	require.Error(t, stranger.Verify(body, headers))
}
