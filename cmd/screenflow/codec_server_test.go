package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/vault"
)

const testCodecToken = "codec-token-for-tests"

func newTestCodec(t *testing.T) *codec.Codec {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	c, err := codec.New(key)
	require.NoError(t, err)
	return c
}

// postPayloads sends payloads to the codec server's path as the Temporal CLI does.
func postPayloads(t *testing.T, url, authorization string, payloads []*commonpb.Payload) (*http.Response, []*commonpb.Payload) {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	var out commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(raw, &out))
	return resp, out.GetPayloads()
}

func TestCodecServerEncodesAndDecodesForTheHolderOfTheToken(t *testing.T) {
	c := newTestCodec(t)
	srv := httptest.NewServer(newCodecHandler(c, testCodecToken, nil))
	defer srv.Close()
	plain, err := converter.GetDefaultDataConverter().ToPayloads("screening-8d1c", 42)
	require.NoError(t, err)

	resp, encoded := postPayloads(t, srv.URL+"/encode", "Bearer "+testCodecToken, plain.GetPayloads())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, encoded, 2)
	for _, p := range encoded {
		require.Equal(t, codec.EncodingEncrypted, string(p.GetMetadata()[codec.MetadataEncoding]))
	}
	resp, decoded := postPayloads(t, srv.URL+"/decode", "bearer "+testCodecToken, encoded)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var id string
	var n int
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(&commonpb.Payloads{Payloads: decoded}, &id, &n))
	require.Equal(t, "screening-8d1c", id)
	require.Equal(t, 42, n)

	for name, authorization := range map[string]string{
		"no token":        "",
		"a wrong token":   "Bearer not-the-token",
		"a token prefix":  "Bearer " + testCodecToken[:5],
		"another scheme":  "Basic " + testCodecToken,
		"the bare token":  testCodecToken,
		"an empty bearer": "Bearer ",
	} {
		t.Run(name, func(t *testing.T) {
			resp, out := postPayloads(t, srv.URL+"/decode", authorization, encoded)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Nil(t, out)
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
		})
	}
}

func TestCodecServerAnswersOnlyItsTwoEndpointsAndRejectsAnUndecodablePayload(t *testing.T) {
	c, other := newTestCodec(t), newTestCodec(t)
	srv := httptest.NewServer(newCodecHandler(c, testCodecToken, nil))
	defer srv.Close()
	auth := "Bearer " + testCodecToken

	resp, _ := postPayloads(t, srv.URL+"/decrypt", auth, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/decode", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	getResp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	getResp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, getResp.StatusCode)

	plain, err := converter.GetDefaultDataConverter().ToPayloads("secret")
	require.NoError(t, err)
	foreign, err := other.Encode(plain.GetPayloads())
	require.NoError(t, err)
	resp, _ = postPayloads(t, srv.URL+"/decode", auth, foreign)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a payload of a key not loaded")
}

func TestCodecServerAllowsTheWebUIOriginsAndNoOther(t *testing.T) {
	srv := httptest.NewServer(newCodecHandler(newTestCodec(t), testCodecToken, []string{"http://localhost:8233"}))
	defer srv.Close()
	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	resp := preflight("http://localhost:8233")
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "a preflight needs no token")
	require.Equal(t, "http://localhost:8233", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	for _, h := range []string{"Authorization", "Content-Type", "X-Namespace"} {
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), h)
	}
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")

	resp = preflight("https://evil.example")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
	require.NoError(t, err)
	req.Header.Set("Origin", "http://localhost:8233")
	post, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	post.Body.Close()
	require.Equal(t, http.StatusUnauthorized, post.StatusCode, "CORS does not replace the token")
	require.Equal(t, "http://localhost:8233", post.Header.Get("Access-Control-Allow-Origin"),
		"the UI can read the 401 and show it")
}

func TestCodecServerRefusesToStartWithoutKeyOrToken(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfg, err := loadTestConfig(map[string]string{"CODEC_SERVER_TOKEN": testCodecToken, "CODEC_SERVER_ADDR": "127.0.0.1:0"})
	require.NoError(t, err)
	require.ErrorContains(t, runCodecServer(context.Background(), cfg, log), "SCREENFLOW_ENCRYPTION_KEY is not set")

	cfg, err = loadTestConfig(map[string]string{"SCREENFLOW_ENCRYPTION_KEY": vault.NewKey(), "CODEC_SERVER_ADDR": "127.0.0.1:0"})
	require.NoError(t, err)
	require.ErrorContains(t, runCodecServer(context.Background(), cfg, log), "CODEC_SERVER_TOKEN is not set")
}

func TestCodecServerSettings(t *testing.T) {
	key := vault.NewKey()
	cfg, err := loadTestConfig(map[string]string{
		"SCREENFLOW_ENCRYPTION_KEY": key,
		"CODEC_SERVER_TOKEN":        testCodecToken,
		"CODEC_CORS_ORIGINS":        " http://localhost:8233/ ,https://temporal.example.com,",
	})
	require.NoError(t, err)
	require.Equal(t, codecServerConfig{Addr: ":8089", Token: testCodecToken,
		CORSOrigins: []string{"http://localhost:8233", "https://temporal.example.com"}}, cfg.CodecServer)
	require.Equal(t, vault.KeyID(mustParseKey(t, key)), cfg.PayloadCodec.PrimaryKeyID())
	require.NotNil(t, temporalOptions(cfg, slog.New(slog.DiscardHandler)).DataConverter,
		"serve's and worker's clients encrypt")

	_, err = loadTestConfig(map[string]string{"SCREENFLOW_ENCRYPTION_KEY": "not-a-key"})
	require.ErrorContains(t, err, "SCREENFLOW_ENCRYPTION_KEY")
	require.NotContains(t, err.Error(), "not-a-key")
}
