package receiver_test

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/devenv/testenv"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(testenv.Run(m))
}
