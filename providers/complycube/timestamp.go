package complycube

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// timestampLayouts are the date-time shapes ParseTimestamp reads, tried in turn. A layout's
// fractional seconds (.999999999) are optional when parsing.
var timestampLayouts = []string{
	time.RFC3339Nano,                      // 2020-01-01T11:14:23.964Z, as ComplyCube documents it
	"2006-01-02 15:04:05.999999999Z07:00", // a space instead of the T
	"2006-01-02T15:04:05.999999999",       // no zone: read as UTC
	"2006-01-02 15:04:05.999999999",       // 2020-01-01 11:14:23
}

// Epoch values below epochMillisFrom are seconds, from it up to epochTooLarge milliseconds: 1e11
// seconds is the year 5138, 1e11 milliseconds 1973. Anything larger is not a time we can read.
const (
	epochMillisFrom = 1e11
	epochTooLarge   = 1e14
)

// ParseTimestamp reads a timestamp of a webhook (the event's createdAt, its payload's createdAt
// and updatedAt) leniently. ComplyCube documents ISO 8601, but an authentic event must never be
// refused or misread for the shape of a date, so it also takes RFC 3339 with a space instead of
// the T or without a zone (UTC), and Unix epoch seconds or milliseconds, as a JSON number or a
// string. Anything else (absent, null, "", "yesterday") is the zero time, which callers read as
// "unknown". The result is in UTC.
func ParseTimestamp(raw json.RawMessage) time.Time {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// Not a JSON string: a number is an epoch; null, an object or junk is unknown.
		s = string(bytes.TrimSpace(raw))
	}
	return parseTimestamp(strings.TrimSpace(s))
}

func parseTimestamp(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n <= 0 || n >= epochTooLarge: // 0 is "not set" rather than 1970
			return time.Time{}
		case n >= epochMillisFrom:
			return time.UnixMilli(n).UTC()
		default:
			return time.Unix(n, 0).UTC()
		}
	}
	// Fractional epoch seconds, 1577877263.964; NaN and Inf fail the comparison.
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < epochMillisFrom {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	}
	return time.Time{}
}
