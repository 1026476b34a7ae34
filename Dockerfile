# The screenflow binary (serve, worker, migrate, ...) on a small Debian base.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that code changes do not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binary: the runtime image needs no libc of a particular version.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/screenflow ./cmd/screenflow

FROM debian:bookworm-slim
# ca-certificates: the provider APIs are called over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin screenflow
COPY --from=build /out/screenflow /usr/local/bin/screenflow
USER screenflow
EXPOSE 8080
ENTRYPOINT ["screenflow"]
