// Package fakekit holds what the provider fakes share: the PDF writer for their reports, the
// webhook sender with its retry schedule and misbehaviour switches, and the timers that move fake
// objects along by themselves. What differs between providers (event envelopes, signatures,
// ordering rules) stays in each fake and reaches these pieces through options and arguments.
package fakekit

import (
	"encoding/json"
	"fmt"
)

// MustJSON encodes a fake's own types, which always encode; a failure is a bug in the fake.
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fake: encode %T: %v", v, err))
	}
	return b
}
