package fake

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

const testReport = "f4bda8bd0201d322e41301aa"

func TestReportPDFIsWellFormed(t *testing.T) {
	pdf := reportPDF(testReport, "tasker_standard", "consider", "review")

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
	assert.Contains(t, string(sm[2]), "(Checkr report "+testReport+")")
	assert.Contains(t, string(sm[2]), "(Package: tasker_standard)")
	assert.Contains(t, string(sm[2]), "(Result: consider)")
	assert.Contains(t, string(sm[2]), "(Assessment: review)")
}

func TestReportPDFIsDeterministic(t *testing.T) {
	assert.Equal(t, reportPDF("r1", "p", "clear", "eligible"), reportPDF("r1", "p", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("r1", "p", "clear", "eligible"), reportPDF("r2", "p", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("r1", "p", "clear", "eligible"), reportPDF("r1", "q", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("r1", "p", "clear", "eligible"), reportPDF("r1", "p", "consider", "eligible"))
	assert.NotEqual(t, reportPDF("r1", "p", "clear", "eligible"), reportPDF("r1", "p", "clear", "review"))
}

func TestReportPDFEscapesText(t *testing.T) {
	pdf := reportPDF(`a(b)\c`, "p", "clear", "eligible")
	assert.Contains(t, string(pdf), `(Checkr report a\(b\)\\c)`)
}

// TestReportPDFOpens reads the PDF with a real PDF reader, poppler's pdftotext (Debian package
// poppler-utils, which `make test` installs).
func TestReportPDFOpens(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pdftotext; run without -short")
	}
	bin, err := exec.LookPath("pdftotext")
	require.NoError(t, err, "install poppler-utils (make test does) to read the PDF with a real reader")
	path := filepath.Join(t.TempDir(), "report.pdf")
	require.NoError(t, os.WriteFile(path, reportPDF(testReport, "tasker_standard", "clear", "eligible"), 0o600))
	out, err := exec.Command(bin, path, "-").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "Checkr report "+testReport)
	assert.Contains(t, string(out), "Package: tasker_standard")
	assert.Contains(t, string(out), "Result: clear")
	assert.Contains(t, string(out), "Assessment: eligible")
	assert.NotContains(t, string(out), "Syntax Error")
}
