package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// JSONLog takes the JSON log lines of a slog.JSONHandler whose goroutines write at once, and
// decodes them for a test's assertions.
type JSONLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *JSONLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Line is the last line logged with message msg, or nil.
func (l *JSONLog) Line(t testing.TB, msg string) map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var last map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		if line["msg"] == msg {
			last = line
		}
	}
	return last
}
