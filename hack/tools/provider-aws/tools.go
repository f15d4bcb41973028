//go:build tools

// Package tools pins provider-aws for the end-to-end test, which runs the
// real provider against an emulated AWS account. Its requirements are
// provider-aws v0.58.0's own, and go.sum starts from provider-aws's go.sum:
// the checksum database does not know one of its modules.
package tools

import _ "github.com/crossplane-contrib/provider-aws/cmd/provider"
