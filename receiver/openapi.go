package receiver

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the HR API's contract, written as YAML for people to read and review.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the contract as GET /openapi.json serves it. The embedded file is part of the
// build: if it does not convert, the binary is broken, and every test of this package says so.
var openAPIJSON = mustYAMLToJSON(openAPIYAML)

// openAPIETag lets clients and caches revalidate the document instead of downloading it again.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIJSON)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// openAPI serves the contract. It is public (it holds no tenant data) and may be read by any
// origin, so that a browser-based OpenAPI viewer can load it from a running server.
func openAPI(c *gin.Context) {
	c.Header("Content-Type", "application/json")
	c.Header("ETag", openAPIETag)
	// It changes only with a release; revalidating an hour later is cheap with the ETag.
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("Access-Control-Allow-Origin", "*")
	// ServeContent answers If-None-Match with 304.
	http.ServeContent(c.Writer, c.Request, "openapi.json", time.Time{}, bytes.NewReader(openAPIJSON))
}

func mustYAMLToJSON(doc []byte) []byte {
	out, err := yamlToJSON(doc)
	if err != nil {
		panic(fmt.Sprintf("receiver: embedded openapi.yaml: %v", err))
	}
	return out
}

// yamlToJSON converts a YAML document whose mapping keys are all strings (OpenAPI's are; status
// codes are quoted) to JSON.
func yamlToJSON(doc []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
