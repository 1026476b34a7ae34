package fake

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The PDF's structure is fakekit's to test; these test what the fake's report says.

func TestReportPDFNamesReportAndResult(t *testing.T) {
	pdf := string(reportPDF("d1", "f4bda8bd0201d322e41301aa", "tasker_standard", "consider", "review"))
	assert.Contains(t, pdf, "(Checkr report f4bda8bd0201d322e41301aa)")
	assert.Contains(t, pdf, "(Document: d1)")
	assert.Contains(t, pdf, "(Package: tasker_standard)")
	assert.Contains(t, pdf, "(Result: consider)")
	assert.Contains(t, pdf, "(Assessment: review)")
}

func TestReportPDFIsDeterministic(t *testing.T) {
	assert.Equal(t, reportPDF("d1", "r1", "p", "clear", "eligible"), reportPDF("d1", "r1", "p", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("d1", "r1", "p", "clear", "eligible"), reportPDF("d2", "r1", "p", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("d1", "r1", "p", "clear", "eligible"), reportPDF("d1", "r2", "p", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("d1", "r1", "p", "clear", "eligible"), reportPDF("d1", "r1", "q", "clear", "eligible"))
	assert.NotEqual(t, reportPDF("d1", "r1", "p", "clear", "eligible"), reportPDF("d1", "r1", "p", "consider", "eligible"))
	assert.NotEqual(t, reportPDF("d1", "r1", "p", "clear", "eligible"), reportPDF("d1", "r1", "p", "clear", "review"))
}
