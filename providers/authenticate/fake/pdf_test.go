package fake

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The PDF's structure is fakekit's to test; these test what the fake's report says.

func TestReportPDFNamesReportAndOutcomes(t *testing.T) {
	pdf := string(reportPDF("3f1c2b9e-8d4a-4c1e-9b7f-2a6d5e4c3b21", "uac-1", "RECORD_FOUND", "CLEAR"))
	assert.Contains(t, pdf, "(Authenticate report 3f1c2b9e-8d4a-4c1e-9b7f-2a6d5e4c3b21)")
	assert.Contains(t, pdf, "(User uac-1)")
	assert.Contains(t, pdf, "(Criminal searches: RECORD_FOUND)")
	assert.Contains(t, pdf, "(Sex offender check: CLEAR)")
}

func TestReportPDFIsDeterministic(t *testing.T) {
	assert.Equal(t, reportPDF("r1", "u1", "CLEAR", "CLEAR"), reportPDF("r1", "u1", "CLEAR", "CLEAR"))
	assert.NotEqual(t, reportPDF("r1", "u1", "CLEAR", "CLEAR"), reportPDF("r1", "u1", "RECORD_FOUND", "CLEAR"))
	assert.NotEqual(t, reportPDF("r1", "u1", "CLEAR", "CLEAR"), reportPDF("r1", "u1", "CLEAR", "RECORD_FOUND"))
	assert.NotEqual(t, reportPDF("r1", "u1", "CLEAR", "CLEAR"), reportPDF("r2", "u1", "CLEAR", "CLEAR"))
}
