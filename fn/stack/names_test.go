package stack

import (
	"strings"
	"testing"
)

func TestMatchesAny(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		s        string
		want     bool
	}{
		{nil, "anything", true},
		{[]string{"t4g.*"}, "t4g.micro", true},
		{[]string{"t4g.*"}, "t3.micro", false},
		{[]string{"m7g.large"}, "m7g.large", true},
		{[]string{"*.dkr.ecr.*.amazonaws.com/*"}, "1234.dkr.ecr.eu-west-1.amazonaws.com/restate", true},
	} {
		if got := MatchesAny(tc.patterns, tc.s); got != tc.want {
			t.Errorf("matchesAny(%v, %q) = %v, want %v", tc.patterns, tc.s, got, tc.want)
		}
	}
}

func TestResourceNames(t *testing.T) {
	long := strings.Repeat("a", 70) + "-x7k2p"
	n := ResourceName(long, "instance-role-policy")
	if len(n) > MaxNameLength {
		t.Errorf("%q is %d long, over %d", n, len(n), MaxNameLength)
	}
	if !strings.HasSuffix(n, "-"+"instance-role-policy") {
		t.Errorf("%q lost its suffix", n)
	}
	if ResourceName(long, "instance-role-policy") != n {
		t.Error("the same stack got two names")
	}
	other := strings.Repeat("a", 70) + "-y8m3q"
	if ResourceName(other, "instance-role-policy") == n {
		t.Error("two stacks whose names differ only past the cut got the same name")
	}
	if got := ResourceName("demo-x7k2p", "vpc"); got != "demo-x7k2p-vpc" {
		t.Errorf("short names stay readable: got %q", got)
	}
}

func TestResourceNameWithLongSuffix(t *testing.T) {
	for _, stackName := range []string{"demo-x7k2p", strings.Repeat("s", 80)} {
		for _, suffix := range []string{strings.Repeat("x", 54), strings.Repeat("x", 300), "dereg-" + strings.Repeat("-", 100)} {
			n := ResourceName(stackName, suffix)
			if len(n) > MaxNameLength || strings.HasSuffix(n, "-") || strings.HasPrefix(n, "-") {
				t.Errorf("ResourceName(%d chars, %d chars) = %q", len(stackName), len(suffix), n)
			}
			if ResourceName(stackName, suffix+"y") == n {
				t.Errorf("two suffixes that differ past the cut share %q", n)
			}
		}
	}
}
