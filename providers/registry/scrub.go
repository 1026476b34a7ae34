package registry

import (
	"bytes"
	"strings"

	"github.com/screenflow/screenflow/store"
)

// Scrubber is implemented by providers whose webhook bodies carry secrets of their own (Checkr's
// token.deauthorized carries the access token it revokes). ScrubWebhook returns the body without
// them, still a body that Translate reads as it reads the original: in place of a secret it keeps
// what screenflow needs of it, such as its fingerprint. The inbox stores that body.
type Scrubber interface {
	ScrubWebhook(body []byte) []byte
}

// redactedToken stands in for the webhook path's secret token in what the inbox stores.
const redactedToken = "[redacted]"

// Scrub returns an authentic webhook as the inbox stores it, without secrets: the provider's own
// (Scrubber), the credentials of URLs (https://user:password@host) in its body and header values,
// and the secret token of the webhook's path (pathToken) in header values, where a proxy may have
// copied the URL. It runs after ParseWebhook, so the event's id and subject are those of the body
// as received. The event's Headers map is changed in place.
func Scrub(p Provider, e store.NewInboxEvent, pathToken string) store.NewInboxEvent {
	if s, ok := p.(Scrubber); ok {
		e.Body = s.ScrubWebhook(e.Body)
	}
	e.Body = StripURLCredentials(e.Body)
	for name, value := range e.Headers {
		scrubbed := value
		if pathToken != "" {
			scrubbed = strings.ReplaceAll(scrubbed, pathToken, redactedToken)
		}
		// Most values hold no URL: spared the copy to bytes and back.
		if strings.Contains(scrubbed, string(schemeSeparator)) || strings.Contains(scrubbed, string(escapedSchemeSeparator)) {
			scrubbed = string(StripURLCredentials([]byte(scrubbed)))
		}
		if scrubbed != value {
			e.Headers[name] = scrubbed
		}
	}
	return e
}

// Authority separators: "://", and as JSON encoders that escape '/' write it.
var (
	schemeSeparator        = []byte("://")
	escapedSchemeSeparator = []byte(`:\/\/`)
)

// StripURLCredentials removes the userinfo of every URL in text ("https://user:pass@host/" becomes
// "https://host/") and leaves everything else as it was: a JSON body stays valid JSON, since no
// quote or backslash is ever removed. It returns text itself when there is nothing to remove.
func StripURLCredentials(text []byte) []byte {
	var out []byte
	kept := 0 // text[:kept] is in out, or needs no change when out is nil
	for i := 0; i < len(text); {
		authority := nextAuthority(text, i)
		if authority < 0 {
			break
		}
		if at := userinfoEnd(text, authority); at >= 0 {
			out = append(out, text[kept:authority]...)
			kept = at + 1
		}
		i = authority
	}
	if out == nil {
		return text
	}
	return append(out, text[kept:]...)
}

// nextAuthority returns where the authority of the first URL at or after from begins, or -1.
func nextAuthority(text []byte, from int) int {
	plain := bytes.Index(text[from:], schemeSeparator)
	escaped := bytes.Index(text[from:], escapedSchemeSeparator)
	switch {
	case plain < 0 && escaped < 0:
		return -1
	case escaped < 0 || (plain >= 0 && plain < escaped):
		return from + plain + len(schemeSeparator)
	default:
		return from + escaped + len(escapedSchemeSeparator)
	}
}

// userinfoEnd returns the index of the '@' that ends the userinfo of the authority starting at
// start, or -1 when the authority has none: the host comes first to a character that ends it.
func userinfoEnd(text []byte, start int) int {
	for k := start; k < len(text); k++ {
		switch c := text[k]; {
		case c == '@':
			return k
		case c <= ' ' || c == 0x7f || strings.IndexByte(`/\?#"'<>`, c) >= 0:
			return -1
		}
	}
	return -1
}
