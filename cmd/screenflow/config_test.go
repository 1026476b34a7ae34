package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/builtin"
)

// TestREADMEConfiguration holds the README's configuration table to the settings the code reads:
// the same variables, with the same defaults.
func TestREADMEConfiguration(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, found := strings.Cut(string(readme), "\n## Configuration\n")
	require.True(t, found, "README has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| ([^|]*) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented[m[1]] = strings.TrimSpace(m[2])
	}

	settings := append(slices.Clone(coreSettings), builtin.Providers().Settings()...)
	var names []string
	for _, s := range settings {
		names = append(names, s.Name)
		cell, ok := documented[s.Name]
		if !ok {
			t.Errorf("%s is read by the code but missing from the README's configuration table", s.Name)
			continue
		}
		if s.Default == "" {
			require.Truef(t, strings.HasPrefix(cell, "(none"), "%s has no default, the README says %q", s.Name, cell)
		} else {
			require.Truef(t, strings.HasPrefix(cell, "`"+s.Default+"`"), "%s defaults to %q, the README says %q", s.Name, s.Default, cell)
		}
	}
	for name := range documented {
		require.Containsf(t, names, name, "the README documents %s, which the code does not read", name)
	}
}

func TestConfigurationErrorsNameTheSetting(t *testing.T) {
	for name, value := range map[string]string{
		"CHECK_POLL_INTERVAL":           "soon",
		"WEBHOOK_MAX_BYTES":             "-1",
		"COMPLYCUBE_BASE_URL":           "api.complycube.com",
		"CHECKR_AUTHORIZE_URL":          "ftp://partners.checkr.com",
		"AUTHENTICATE_PATH_TEST_RESULT": "user/getTestResult",
		"TEMPORAL_GRPC_COMPRESSION":     "brotli",
	} {
		_, err := loadConfig(func(n string) string { return map[string]string{name: value}[n] })
		require.ErrorContains(t, err, name)
	}
	_, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err, "the defaults are a valid configuration")
}
