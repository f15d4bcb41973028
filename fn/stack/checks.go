package stack

import (
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// AllowedBy reports whether s matches one of the platform's patterns where
// an empty list allows nothing (what a claim may point the stack at).
func AllowedBy(patterns []string, s string) bool {
	return len(patterns) > 0 && MatchesAny(patterns, s)
}

// MatchesAny reports whether s matches one of the shell patterns; an empty
// list allows everything.
func MatchesAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s {
			return true
		}
	}
	return false
}

// SortedKeys are a map's keys, sorted.
func SortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// RoleARNRE matches an IAM role ARN.
var RoleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// ResolveSecretRef checks a Secret reference and defaults its key. Only
// the reference travels; the value stays in the Secret.
func ResolveSecretRef(r *v1alpha1.SecretKeyReference, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Name == "" {
		errs = append(errs, field.Required(fp.Child("name"), "the name of a Secret in the claim's namespace"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
			errs = append(errs, field.Invalid(fp.Child("name"), r.Name, msg))
		}
	}
	if r.Key == "" {
		r.Key = defaultSecretKey
	}
	for _, msg := range validation.IsConfigMapKey(r.Key) {
		errs = append(errs, field.Invalid(fp.Child("key"), r.Key, msg))
	}
	return errs
}

// CheckURL accepts an absolute http or https URL without credentials, query
// or fragment. Credentials belong in a Secret, never in a URL that composed
// resources and logs carry.
func CheckURL(s string, fp *field.Path, required bool) field.ErrorList {
	if s == "" {
		if required {
			return field.ErrorList{field.Required(fp, "an http or https URL")}
		}
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(fp, s, "not a URL: "+err.Error())}
	case u.User != nil:
		return field.ErrorList{field.Invalid(fp, "<redacted>", "may not carry credentials; reference a token Secret instead")}
	case u.Scheme != "http" && u.Scheme != "https":
		return field.ErrorList{field.Invalid(fp, s, "must be an http or https URL")}
	case u.Host == "" || u.Hostname() == "":
		return field.ErrorList{field.Invalid(fp, s, "has no host")}
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, " \t\n"):
		return field.ErrorList{field.Invalid(fp, s, "may not have a query, fragment or whitespace")}
	}
	return nil
}

// CheckRoleARN checks an IAM role ARN a claim gives, if any.
func CheckRoleARN(arn string, fp *field.Path) field.ErrorList {
	if arn != "" && !RoleARNRE.MatchString(arn) {
		return field.ErrorList{field.Invalid(fp, arn, "not an IAM role ARN such as arn:aws:iam::123456789012:role/restate-invoker")}
	}
	return nil
}

// defaultSecretKey is the key of a token Secret that names none.
const defaultSecretKey = "token"
