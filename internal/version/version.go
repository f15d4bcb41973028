// Package version holds what the build stamps into the binary.
package version

// Image is the function's own image, the default image of registration
// Jobs, so that one image serves both. `make build` and the Dockerfile set
// it with -ldflags -X.
var Image = "ghcr.io/restate-crossplane/function-restate-stack:v0.1.0"
