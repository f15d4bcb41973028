// Package iampolicy decides whether an IAM policy document allows a
// request, for exactly the forms this project's stacks emit, and fails
// closed: a request is allowed only by an Allow statement that matches it
// in every part, a condition key the request does not carry denies, and a
// document in any other form is refused with an error, never guessed at.
// The account audit of the end-to-end test uses it; no maintained Go
// library evaluates IAM policies, and moto's evaluator fails open.
//
// The forms: Version 2012-10-17; Effect Allow; Action as a string or list
// of exact "service:Action" names; Resource as exact ARNs, or ARNs ending
// in "*" (a prefix, so ":*" covers a log group's streams and a function's
// versions) or in "?"s (one character each: Secrets Manager's "-??????"
// suffix); Principal {"AWS": ARNs} (an account's ":root" meaning any
// principal of that account) or {"Service": names}; Condition operators
// StringEquals, ArnEquals and Bool, each key with one value or a list;
// StringLike on a single-valued key (s3:prefix), with patterns ending in
// "*";
// ForAllValues:StringLike with patterns ending in "*" on a multi-valued
// key; and Null.
package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Document is a policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a document.
type Statement struct {
	Sid       string                           `json:"Sid,omitempty"`
	Effect    string                           `json:"Effect"`
	Principal map[string]stringList            `json:"Principal,omitempty"`
	Action    stringList                       `json:"Action"`
	Resource  stringList                       `json:"Resource,omitempty"`
	Condition map[string]map[string]stringList `json:"Condition,omitempty"`
}

// stringList is a JSON string or list of strings.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// Request is what is asked: a principal (an ARN, or a service name such as
// lambda.amazonaws.com) doing an action on a resource, with the condition
// keys the request carries.
type Request struct {
	Principal string
	Action    string
	Resource  string
	Context   map[string]string
	// Values are the request's multi-valued keys (aws:TagKeys); a key
	// absent here is absent from the request.
	Values map[string][]string
}

// Parse reads a document, URL-encoded (as IAM returns them) or not, and
// refuses any form outside the package's.
func Parse(doc string) (*Document, error) {
	if strings.HasPrefix(doc, "%7B") {
		if d, err := url.QueryUnescape(doc); err == nil {
			doc = d
		}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.DisallowUnknownFields() // NotAction, NotResource, NotPrincipal, ...
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("not a policy of the supported forms: %w", err)
	}
	if d.Version != "2012-10-17" {
		return nil, fmt.Errorf("version %q: want 2012-10-17", d.Version)
	}
	if len(d.Statement) == 0 {
		return nil, errors.New("no statement")
	}
	for i, s := range d.Statement {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
	}
	return &d, nil
}

func (s Statement) check() error {
	if s.Effect != "Allow" {
		return fmt.Errorf("effect %q: only Allow is supported", s.Effect)
	}
	if len(s.Action) == 0 {
		return errors.New("no action")
	}
	for _, a := range s.Action {
		if strings.Count(a, ":") != 1 || strings.Contains(a, "*") {
			return fmt.Errorf("action %q: want an exact service:Action", a)
		}
	}
	for _, r := range s.Resource {
		if !strings.HasPrefix(r, "arn:") || strings.Contains(strings.TrimSuffix(r, "*"), "*") || strings.Contains(strings.TrimRight(r, "?"), "?") {
			return fmt.Errorf("resource %q: want an ARN, with at most a trailing * or trailing ?s", r)
		}
	}
	for kind, ps := range s.Principal {
		if kind != "AWS" && kind != "Service" {
			return fmt.Errorf("principal kind %q: want AWS or Service", kind)
		}
		for _, p := range ps {
			if p == "*" || strings.Contains(p, "*") {
				return fmt.Errorf("principal %q: wildcards are not supported", p)
			}
		}
	}
	for op, keys := range s.Condition {
		switch op {
		case "StringEquals", "ArnEquals", "Bool", "StringLike", "ForAllValues:StringLike", "Null":
		default:
			return fmt.Errorf("condition operator %q: want StringEquals, ArnEquals, Bool, StringLike, ForAllValues:StringLike or Null", op)
		}
		for key, values := range keys {
			switch {
			case len(values) == 0:
				return fmt.Errorf("condition %s on %s has no value", op, key)
			case op == "Null" && (len(values) != 1 || values[0] != "true" && values[0] != "false"):
				return fmt.Errorf("condition Null on %s: want true or false", key)
			case (op == "StringLike" || op == "ForAllValues:StringLike") && anyOf(values, func(v string) bool { return strings.ContainsAny(strings.TrimSuffix(v, "*"), "*?") }):
				return fmt.Errorf("condition %s on %s: want patterns with at most a trailing *", op, key)
			}
		}
	}
	return nil
}

// Allows says whether an identity policy (no principals) allows a request.
func (d *Document) Allows(r Request) bool {
	for _, s := range d.Statement {
		if len(s.Principal) == 0 && len(s.Resource) > 0 && s.matches(r) {
			return true
		}
	}
	return false
}

// Trusts says whether a trust policy (every statement names principals)
// lets a request's principal do its action (sts:AssumeRole, say).
func (d *Document) Trusts(r Request) bool {
	for _, s := range d.Statement {
		if len(s.Principal) > 0 && s.principal(r.Principal) && s.matches(r) {
			return true
		}
	}
	return false
}

func (s Statement) matches(r Request) bool {
	if !anyOf(s.Action, func(a string) bool { return strings.EqualFold(a, r.Action) }) {
		return false
	}
	if len(s.Resource) > 0 && !anyOf(s.Resource, func(p string) bool { return resourceMatches(p, r.Resource) }) {
		return false
	}
	for op, keys := range s.Condition {
		for key, values := range keys {
			if !conditionHolds(op, key, values, r) {
				return false
			}
		}
	}
	return true
}

// conditionHolds evaluates one condition key of a statement.
func conditionHolds(op, key string, values []string, r Request) bool {
	multi, isMulti := r.Values[key]
	switch op {
	case "Null":
		_, single := r.Context[key]
		present := single || isMulti && len(multi) > 0
		return values[0] == strconv.FormatBool(!present)
	case "ForAllValues:StringLike":
		// Holds on an empty set, as in IAM: hence Null beside it.
		for _, got := range multi {
			if !anyOf(values, func(p string) bool { return resourceMatches(p, got) }) {
				return false
			}
		}
		return true
	}
	got, ok := r.Context[key]
	if !ok {
		return false // a key the request does not carry: closed
	}
	if op == "StringLike" {
		return anyOf(values, func(p string) bool { return resourceMatches(p, got) })
	}
	// StringEquals, ArnEquals and Bool alike compare exactly: the function
	// emits no ARN patterns in conditions, and booleans as "true".
	return anyOf(values, func(v string) bool { return v == got })
}

// principal says whether a statement names the request's principal.
func (s Statement) principal(p string) bool {
	if anyOf(s.Principal["Service"], func(svc string) bool { return svc == p }) {
		return true
	}
	return anyOf(s.Principal["AWS"], func(arn string) bool {
		if strings.HasPrefix(arn, "arn:aws:iam::") && strings.HasSuffix(arn, ":root") {
			// An account's root means any principal of that account (its
			// roles, and their sessions).
			return accountOf(p) != "" && accountOf(p) == accountOf(arn)
		}
		return arn == p
	})
}

// accountOf is the account field of an IAM or STS ARN, or "".
func accountOf(arn string) string {
	f := strings.Split(arn, ":")
	if len(f) < 6 || f[0] != "arn" || (f[2] != "iam" && f[2] != "sts") {
		return ""
	}
	return f[4]
}

func resourceMatches(pattern, resource string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(resource, prefix)
	}
	if prefix := strings.TrimRight(pattern, "?"); prefix != pattern {
		// Each ? is one character, so the lengths agree.
		return len(resource) == len(pattern) && strings.HasPrefix(resource, prefix)
	}
	return pattern == resource
}

func anyOf(xs []string, f func(string) bool) bool {
	for _, x := range xs {
		if f(x) {
			return true
		}
	}
	return false
}
