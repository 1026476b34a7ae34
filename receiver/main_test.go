package receiver_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/devenv/testenv"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := testenv.Run(m)
	if err := stopDurablePostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "durable postgres:", err)
	}
	os.Exit(code)
}
