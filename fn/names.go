package fn

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxNameLength fits every name the stack derives: Kubernetes object names
// and labels (63), IAM role names (64), instance profiles (128) and security
// groups (255).
const maxNameLength = 63

// awsName derives the name of one of a stack's resources from the stack's
// name. The same stack always gets the same names; two stacks never share
// one, since composite names are unique in a cluster and the suffixes are
// unique within a stack. A name that would be too long keeps a readable
// prefix and gains a hash of the whole name.
func awsName(stackName, suffix string) string {
	n := stackName + "-" + suffix
	if len(n) <= maxNameLength {
		return n
	}
	h := hashOf(n)
	keep := maxNameLength - len(suffix) - len(h) - 2
	return trimDashes(stackName[:keep]) + "-" + h + "-" + suffix
}

// hashOf returns a short, stable hash of the given strings.
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

func trimDashes(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '-' || s[len(s)-1] == '.') {
		s = s[:len(s)-1]
	}
	return s
}
