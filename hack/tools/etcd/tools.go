//go:build tools

// Package tools pins etcd for the end-to-end test's API server.
package tools

import _ "go.etcd.io/etcd/server/v3"
