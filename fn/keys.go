package fn

import (
	"strings"

	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// Composition resource names ("keys"): how Crossplane tells a stack's
// composed resources apart from one call to the next. They are the only
// schema observed state has, so the keys of services, grants and registration, and their parsers, are here (an environment's own are in its package, those every kind shares in fn/stack).
const (
	// A Lambda service's family: the function is fn-<service>, its other
	// resources fn-<service>.<suffix>. Service names have no dots, so no
	// two services' keys collide, and no other key starts with fn-.
	keyServicePrefix    = stack.KeyServicePrefix
	suffixRole          = "role"
	suffixRolePolicy    = "role-policy"
	suffixLogGroup      = "log-group"
	serviceKeySeparator = "."

	// The grants on the invoker role and on the platform's publisher.
	keyInvokeGrant  = "invoke-grant"
	keyPublishGrant = "publish-grant"

	// Registration. A service's Job is reg-<service>-<hash of what it
	// registers>, its report ConfigMap the same with .report; a new hash
	// composes a new Job and drops the old. dereg- likewise.
	keyRegisterPrefix   = "reg-"
	keyDeregisterPrefix = "dereg-"
	suffixReport        = "report"
	keyRegisterSA       = "register-sa"
	keyRegisterRole     = "register-role"
	keyRegisterBinding  = "register-rolebinding"
)

// serviceKey is the key of a Lambda service's function (suffix "") or of
// another resource of its family.
func serviceKey(svc, suffix string) string {
	if suffix == "" {
		return keyServicePrefix + svc
	}
	return keyServicePrefix + svc + serviceKeySeparator + suffix
}

// serviceOfKey returns the service a Lambda family key belongs to, or "".
func serviceOfKey(key string) string {
	rest, ok := strings.CutPrefix(key, keyServicePrefix)
	if !ok {
		return ""
	}
	svc, _, _ := strings.Cut(rest, serviceKeySeparator)
	return svc
}

// reportKey is the key of a registration Job's report ConfigMap.
func reportKey(jobKey string) string { return jobKey + "." + suffixReport }

// jobKind says whether a key is a registration Job's (register or
// deregister), and which; report ConfigMaps' keys are neither.
func jobKind(key string) (register, deregister bool) {
	if strings.HasSuffix(key, "."+suffixReport) {
		return false, false
	}
	return strings.HasPrefix(key, keyRegisterPrefix), strings.HasPrefix(key, keyDeregisterPrefix)
}
