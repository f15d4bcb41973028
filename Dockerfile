# The function's image: a static binary on distroless, running as non-root.
# No Docker engine runs where this project is developed; `make build` builds
# the same binary the same way, and tests run it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY apis/ apis/
COPY input/ input/
COPY fn/ fn/
COPY cmd/ cmd/
COPY internal/ internal/
# The image's own name, the default image of registration Jobs.
ARG IMAGE=ghcr.io/restate-crossplane/function-restate-stack:v0.1.0
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/restate-crossplane/function-restate-stack/internal/version.Image=${IMAGE}" -o /function ./cmd/function-restate-stack

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /function /function
EXPOSE 9443
USER nonroot:nonroot
ENTRYPOINT ["/function"]
