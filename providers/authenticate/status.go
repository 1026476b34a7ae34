package authenticate

import "strings"

// Is reports whether a status, search sub status or report stage as Authenticate sent it means
// want, one of this package's constants (SearchComplete, PDFFailed, SubStatusClear, ...).
// Authenticate's documentation gives every such field only as "string", so the exact literals are
// assumed: case and surrounding space are ignored, "-" and " " count as "_", and the synonyms its
// documentation itself uses for one state are accepted (COMPLETE for searches, as in
// ALL_CRIMINAL_REQUESTS_COMPLETE; COMPLETED for reports). This is the one place those comparisons
// are made. It only reads events and answers; re-reading the API stays the authority for anything
// terminal.
func Is(status, want string) bool {
	return canonical(status) == canonical(want)
}

// synonyms maps a spelling to the one canonical tells it apart by.
var synonyms = map[string]string{
	"COMPLETED": "COMPLETE",
}

var separators = strings.NewReplacer("-", "_", " ", "_")

func canonical(s string) string {
	s = separators.Replace(strings.ToUpper(strings.TrimSpace(s)))
	if c, ok := synonyms[s]; ok {
		return c
	}
	return s
}
