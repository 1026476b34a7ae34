package builtin_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
)

const (
	fuzzComplyCubeSecret = "fuzz-complycube-secret"
	fuzzAuthToken        = "fuzz-authenticate-token"
	fuzzCheckrKey        = "fuzz-checkr-key"
)

// fuzzWebhook runs one provider's webhook path on arbitrary bodies, each signed (or sent to the
// token URL) as the provider would: verify, parse and translate never panic; an authentic body
// verifies; a parsed event has an id and a translated one a signal.
func fuzzWebhook(f *testing.F, provider string, sign func(body []byte) (http.Header, string)) {
	providers := builtin.Providers()
	env := map[string]string{"COMPLYCUBE_WEBHOOK_SECRET": fuzzComplyCubeSecret, "AUTHENTICATE_WEBHOOK_TOKEN": fuzzAuthToken,
		"CHECKR_API_KEY": fuzzCheckrKey}
	if err := providers.Configure(func(name string) string { return env[name] }); err != nil {
		f.Fatal(err)
	}
	p, _ := providers.Get(provider)
	seeds, err := filepath.Glob(filepath.Join("..", "..", "receiver", "testdata", "seeds", provider+"-*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed examples for %s: %v", provider, err)
	}
	for _, path := range seeds {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		header, token := sign(body)
		if !p.VerifyWebhook(header, token, body) {
			t.Fatal("an authentic body does not verify")
		}
		if p.VerifyWebhook(http.Header{}, "", body) {
			t.Fatal("a body without signature or token verifies")
		}
		env, err := p.ParseWebhook(body)
		if err != nil {
			return // kept as unparsed by the receiver
		}
		if env.ID == "" {
			t.Fatal("a parsed event has no id to de-duplicate it by")
		}
		sig, err := providers.Translate(provider, body)
		if err == nil && sig.Name == "" {
			t.Fatal("a translated event has no signal name")
		}
		if err == nil {
			assertNoSecret(t, sig)
		}
	})
}

// assertNoSecret holds that a signal, which goes into workflow history, carries none of the
// configured secrets.
func assertNoSecret(t *testing.T, sig registry.Signal) {
	t.Helper()
	arg, err := json.Marshal(sig.Arg)
	if err != nil {
		t.Fatalf("the signal's payload cannot be encoded: %v", err)
	}
	for _, secret := range []string{fuzzComplyCubeSecret, fuzzAuthToken, fuzzCheckrKey} {
		if strings.Contains(string(arg), secret) {
			t.Fatalf("the signal carries a secret")
		}
	}
}

func FuzzComplyCubeWebhook(f *testing.F) {
	fuzzWebhook(f, complycube.Name, func(body []byte) (http.Header, string) {
		return headerWith(complycube.SignatureHeader, complycube.Sign(fuzzComplyCubeSecret, body)), ""
	})
}

func FuzzAuthenticateWebhook(f *testing.F) {
	fuzzWebhook(f, authenticate.Name, func([]byte) (http.Header, string) { return http.Header{}, fuzzAuthToken })
}

func FuzzCheckrWebhook(f *testing.F) {
	fuzzWebhook(f, checkr.Name, func(body []byte) (http.Header, string) {
		return headerWith(checkr.SignatureHeader, checkr.Sign(fuzzCheckrKey, body)), ""
	})
}

func headerWith(name, signature string) http.Header {
	h := http.Header{}
	h.Set(name, signature)
	return h
}
