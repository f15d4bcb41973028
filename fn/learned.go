package fn

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
)

// learn fills in what the stack learns from AWS rather than from the claim:
// the account id (from an observed ARN) and the data volume's id. Resources
// composed from them (exact-ARN policies, the host's user data) must not be
// withdrawn, nor the host replaced, because one observation lacks a field:
// so each is kept in the composite's status once known, and read back from
// there when the observation has lost it.
func learn(s *stack, obs observed, kept v1alpha1.RestateStackStatus) {
	if s.AccountID == "" {
		s.AccountID = observedAccount(obs)
	}
	if s.AccountID == "" {
		s.AccountID = kept.AccountID
	}
	// What the last status reported registered: a later Job of the same
	// service may fail without a report, and the service must still be
	// deregistered when it goes.
	s.Registered = map[string]string{}
	for _, svc := range kept.Services {
		if svc.Registration != nil && svc.Registration.Endpoint != "" {
			s.Registered[svc.Name] = svc.Registration.Endpoint
		}
	}
	if sh := s.SelfHosted; sh != nil {
		sh.VolumeID = obs.str(keyDataVolume, "status.atProvider.volumeID")
		if sh.VolumeID == "" && kept.SelfHosted != nil {
			sh.VolumeID = kept.SelfHosted.DataVolumeID
		}
	}
}

// volumeUnchanged refuses a claim that changes what an existing data volume
// was created with. provider-aws never modifies a volume (its controller
// reports every volume up to date), so such a change would silently not
// apply; a change of zone would strand the data away from the host.
func volumeUnchanged(s *stack, obs observed) field.ErrorList {
	sh := s.SelfHosted
	if sh == nil {
		return nil
	}
	if _, ok := obs[keyDataVolume]; !ok {
		return nil
	}
	fp := field.NewPath("spec", "environment", "selfHosted")
	zonePath := fp.Child("network", "newVpc", "availabilityZone")
	if sh.Network.Existing != nil {
		zonePath = fp.Child("network", "existing", "availabilityZone")
	}
	const why = "the data volume was created with %s %s, and provider-aws never changes a volume; keep it, or move the data to a new stack"
	var errs field.ErrorList
	for _, c := range []struct {
		path     *field.Path
		field    string
		want     string
		optional bool // absent when not set
	}{
		{zonePath, "availabilityZone", sh.Zone(), false},
		{fp.Child("dataVolume", "sizeGiB"), "size", fmt.Sprint(sh.DataVolume.SizeGiB), false},
		{fp.Child("dataVolume", "type"), "volumeType", sh.DataVolume.Type, false},
		{fp.Child("dataVolume", "iops"), "iops", optionalInt(sh.DataVolume.IOPS), true},
		{fp.Child("dataVolume", "kmsKeyId"), "kmsKeyId", sh.DataVolume.KMSKeyID, true},
	} {
		v := obs.value(keyDataVolume, "spec.forProvider."+c.field)
		if v == nil && !c.optional {
			continue // not observed: nothing to compare with
		}
		got := v.GetStringValue()
		if _, isNumber := v.GetKind().(*structpb.Value_NumberValue); isNumber {
			got = strconv.FormatFloat(v.GetNumberValue(), 'f', -1, 64)
		}
		if got != c.want {
			if got == "" {
				got = "none"
			}
			errs = append(errs, field.Invalid(c.path, c.want, fmt.Sprintf(why, c.field, got)))
		}
	}
	return errs
}

// optionalInt is a number as observed state holds it, or "" for zero.
func optionalInt(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}
