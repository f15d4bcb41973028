package stack

import (
	"crypto/sha256"
	"encoding/hex"
)

// MaxNameLength fits every name the stack derives: Kubernetes object names
// and labels (63), IAM role names (64), instance profiles (128) and security
// groups (255).
const MaxNameLength = 63

// ResourceName derives the name of one of a stack's resources from the stack's
// name. The same stack always gets the same names; two stacks never share
// one, since composite names are unique in a cluster and the suffixes are
// unique within a stack. A name that would be too long keeps a readable
// prefix and gains a hash of the whole name.
func ResourceName(stackName, suffix string) string {
	n := stackName + "-" + suffix
	if len(n) <= MaxNameLength {
		return n
	}
	h := HashOf(n)
	// A suffix too long to leave room for a readable prefix (a service
	// name read back from observed state, say) is cut too: the hash of the
	// whole name keeps the result unique.
	if longest := MaxNameLength - len(h) - 2 - MinNamePrefix; len(suffix) > longest {
		suffix = trimDashes(suffix[:longest])
	}
	keep := min(MaxNameLength-len(suffix)-len(h)-2, len(stackName))
	if prefix := trimDashes(stackName[:keep]); prefix != "" {
		return prefix + "-" + h + "-" + suffix
	}
	return h + "-" + suffix
}

// MinNamePrefix is how much of the stack's name a shortened name keeps at
// least.
const MinNamePrefix = 8

// HashOf returns a short, stable hash of the given strings.
func HashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// ClientToken is an idempotency token for creating a resource of the
// stack: the same for every create of that resource by this stack, and
// another for a later stack of the same name (EC2 keeps a token for days).
// EC2 takes up to 64 ASCII characters.
func ClientToken(s *Stack, key string) string {
	h := sha256.Sum256([]byte(s.UID + "\x00" + s.Name + "\x00" + key))
	return "restate-" + hex.EncodeToString(h[:16])
}

func trimDashes(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '-' || s[len(s)-1] == '.') {
		s = s[:len(s)-1]
	}
	return s
}
