//go:build tools

// Package tools pins the Kubernetes control plane the end-to-end test runs:
// kube-apiserver, kube-controller-manager and kubectl, all v1.35.0.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
