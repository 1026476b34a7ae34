package fakekit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPDFIsWellFormed(t *testing.T) {
	pdf := PDF("Report 5ed3918fbf06f30008e552c9", "Result: clear")

	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")))
	require.True(t, bytes.HasSuffix(pdf, []byte("%%EOF\n")))

	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(pdf)
	require.NotNil(t, m)
	xref, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pdf[xref:], []byte("xref\n0 6\n0000000000 65535 f \n")), "startxref points at the xref table")

	entries := regexp.MustCompile(`(\d{10}) 00000 n \n`).FindAllSubmatch(pdf[xref:], -1)
	require.Len(t, entries, 5)
	for i, e := range entries {
		off, err := strconv.Atoi(string(e[1]))
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(pdf[off:], []byte(strconv.Itoa(i+1)+" 0 obj\n")), "xref entry %d points at its object", i+1)
	}

	sm := regexp.MustCompile(`(?s)<< /Length (\d+) >>\nstream\n(.*?)\nendstream`).FindSubmatch(pdf)
	require.NotNil(t, sm)
	assert.Equal(t, string(sm[1]), strconv.Itoa(len(sm[2])), "stream length")
	assert.Contains(t, string(sm[2]), "(Report 5ed3918fbf06f30008e552c9) Tj T* (Result: clear) Tj T*", "one line after the other")
}

func TestPDFIsDeterministic(t *testing.T) {
	assert.Equal(t, PDF("a", "b"), PDF("a", "b"))
	assert.NotEqual(t, PDF("a", "b"), PDF("a", "c"))
	assert.NotEqual(t, PDF("a", "b"), PDF("b", "a"))
}

func TestPDFEscapesText(t *testing.T) {
	assert.Contains(t, string(PDF(`Report a(b)\c`)), `(Report a\(b\)\\c)`)
}

// TestPDFOpens reads the PDF with a real PDF reader, poppler's pdftotext (Debian package
// poppler-utils, which `make test` installs).
func TestPDFOpens(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pdftotext; run without -short")
	}
	bin, err := exec.LookPath("pdftotext")
	require.NoError(t, err, "install poppler-utils (make test does) to read the PDF with a real reader")
	path := filepath.Join(t.TempDir(), "report.pdf")
	require.NoError(t, os.WriteFile(path, PDF("Report 5ed3918fbf06f30008e552c9", "Result: clear (a) \\ b"), 0o600))
	out, err := exec.Command(bin, path, "-").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "Report 5ed3918fbf06f30008e552c9")
	assert.Contains(t, string(out), `Result: clear (a) \ b`)
	assert.NotContains(t, string(out), "Syntax Error")
}
