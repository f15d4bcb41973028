package fn

import (
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/restate-crossplane/function-restate-stack/apis/v1alpha1"
	"github.com/restate-crossplane/function-restate-stack/fn/env/selfhosted"
	"github.com/restate-crossplane/function-restate-stack/fn/stack"
)

// limit is one side of an AWS limit the schema cannot carry: a claim at the
// last valid value (wantField empty) or at the first invalid one, refused
// naming the field.
type limit struct {
	xr        func(*v1alpha1.XRestateStack)
	wantField string
	wantText  string
}

// TestAWSLimits checks each limit from both sides.
func TestAWSLimits(t *testing.T) {
	vol := func(v v1alpha1.DataVolumeSpec) func(*v1alpha1.XRestateStack) {
		return func(xr *v1alpha1.XRestateStack) { xr.Spec.Environment.SelfHosted.DataVolume = v }
	}
	const volPath = "spec.environment.selfHosted.dataVolume."
	serverEnv := func(k, v string) func(*v1alpha1.XRestateStack) {
		return func(xr *v1alpha1.XRestateStack) {
			xr.Spec.Environment.SelfHosted.Config.Environment = map[string]string{k: v}
		}
	}
	cases := map[string]limit{
		"gp3 of 16384 GiB":           {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 16384})},
		"gp3 of 16385 GiB":           {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 16385}), wantField: volPath + "sizeGiB", wantText: "less than or equal to 16384"},
		"io2 of 4 GiB":               {xr: vol(v1alpha1.DataVolumeSpec{Type: "io2", SizeGiB: 4, IOPS: 100})},
		"io2 of 3 GiB":               {xr: vol(v1alpha1.DataVolumeSpec{Type: "io2", SizeGiB: 3, IOPS: 100}), wantField: volPath + "sizeGiB", wantText: "4 to 16384 GiB"},
		"st1 of 125 GiB":             {xr: vol(v1alpha1.DataVolumeSpec{Type: "st1", SizeGiB: 125})},
		"st1 of 124 GiB":             {xr: vol(v1alpha1.DataVolumeSpec{Type: "st1", SizeGiB: 124}), wantField: volPath + "sizeGiB", wantText: "125 to 16384 GiB"},
		"io1 without IOPS":           {xr: vol(v1alpha1.DataVolumeSpec{Type: "io1", SizeGiB: 10}), wantField: volPath + "iops", wantText: "needs provisioned IOPS"},
		"io1 at 50 IOPS a GiB":       {xr: vol(v1alpha1.DataVolumeSpec{Type: "io1", SizeGiB: 10, IOPS: 500})},
		"io1 at 50.1 IOPS a GiB":     {xr: vol(v1alpha1.DataVolumeSpec{Type: "io1", SizeGiB: 10, IOPS: 501}), wantField: volPath + "iops", wantText: "at most 50 IOPS per GiB"},
		"io1 at 64000 IOPS":          {xr: vol(v1alpha1.DataVolumeSpec{Type: "io1", SizeGiB: 2000, IOPS: 64000})},
		"io1 at 64001 IOPS":          {xr: vol(v1alpha1.DataVolumeSpec{Type: "io1", SizeGiB: 2000, IOPS: 64001}), wantField: volPath + "iops", wantText: "100 to 64000 IOPS"},
		"io2 at 100 IOPS":            {xr: vol(v1alpha1.DataVolumeSpec{Type: "io2", SizeGiB: 10, IOPS: 100})},
		"io2 at 99 IOPS":             {xr: vol(v1alpha1.DataVolumeSpec{Type: "io2", SizeGiB: 10, IOPS: 99}), wantField: volPath + "iops", wantText: "greater than or equal to 100"},
		"gp3 at 3000 IOPS":           {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 8, IOPS: 3000})},
		"gp3 at 2999 IOPS":           {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 8, IOPS: 2999}), wantField: volPath + "iops", wantText: "3000 to 16000 IOPS"},
		"gp3 at 16000 IOPS":          {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 32, IOPS: 16000})},
		"gp3 at 16001 IOPS":          {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 33, IOPS: 16001}), wantField: volPath + "iops", wantText: "3000 to 16000 IOPS"},
		"gp3 at 500 IOPS a GiB":      {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 8, IOPS: 4000})},
		"gp3 at 500.1 IOPS a GiB":    {xr: vol(v1alpha1.DataVolumeSpec{SizeGiB: 8, IOPS: 4001}), wantField: volPath + "iops", wantText: "at most 500 IOPS per GiB"},
		"gp2 with IOPS":              {xr: vol(v1alpha1.DataVolumeSpec{Type: "gp2", IOPS: 3000}), wantField: volPath + "iops", wantText: "takes no provisioned IOPS"},
		"not a volume type":          {xr: vol(v1alpha1.DataVolumeSpec{Type: "standard"}), wantField: volPath + "type", wantText: "supported values"},
		"KMS key id":                 {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"})},
		"KMS multi-Region key id":    {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "mrk-1234abcd12ab34cd56ef1234567890ab"})},
		"KMS key ARN of the region":  {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"})},
		"KMS key ARN of another one": {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}), wantField: volPath + "kmsKeyId", wantText: "in region eu-west-1"},
		"KMS alias":                  {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "alias/restate"}), wantField: volPath + "kmsKeyId", wantText: "an alias cannot be used"},
		"KMS key id one digit short": {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890a"}), wantField: volPath + "kmsKeyId", wantText: "not a KMS key id"},
		"KMS key ARN with a bad id":  {xr: vol(v1alpha1.DataVolumeSpec{KMSKeyID: "arn:aws:kms:eu-central-1:111122223333:key/x"}), wantField: volPath + "kmsKeyId", wantText: "not a KMS key id"},
	}
	tag := func(k, v string) func(*v1alpha1.XRestateStack) {
		return func(xr *v1alpha1.XRestateStack) { xr.Spec.Tags = map[string]string{k: v} }
	}
	for name, c := range map[string]limit{
		"a tag key of 128":              {xr: tag(strings.Repeat("k", 128), "v")},
		"a tag key of 129":              {xr: tag(strings.Repeat("k", 129), "v"), wantField: "spec.tags[" + strings.Repeat("k", 129) + "]", wantText: "not a valid AWS tag key"},
		"a tag value of 256":            {xr: tag("team", strings.Repeat("ä", 256))},
		"a tag value of 257":            {xr: tag("team", strings.Repeat("ä", 257)), wantField: "spec.tags[team]", wantText: "256"},
		"a tag value IAM refuses":       {xr: tag("team", "a&b"), wantField: "spec.tags[team]", wantText: "not a valid AWS tag value"},
		"a reserved tag key":            {xr: tag("aws:cloudformation:stack-name", "x"), wantField: "spec.tags[aws:cloudformation:stack-name]", wantText: "not aws:"},
		"the Name tag, set twice":       {xr: tag("Name", "mine"), wantField: "spec.tags[Name]", wantText: "sets each EC2 resource's Name tag"},
		"a Lambda description of 256":   {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Description = strings.Repeat("d", 256) })},
		"a Lambda description of 257":   {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Description = strings.Repeat("d", 257) }), wantField: "spec.services[0].lambda.description", wantText: "more than 256"},
		"a Lambda environment name":     {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Environment = map[string]string{"A_1": "x"} })},
		"a Lambda environment non-name": {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Environment = map[string]string{"1A": "x"} }), wantField: "spec.services[0].lambda.environment[1A]", wantText: "not a Lambda environment variable name"},
		// Lambda's own rule: a letter first, and at least two characters.
		"a Lambda environment name of 2": {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Environment = map[string]string{"A1": "x"} })},
		"a Lambda environment name of 1": {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Environment = map[string]string{"A": "x"} }), wantField: "spec.services[0].lambda.environment[A]", wantText: "at least one letter, digit or _"},
		"a Lambda environment name _A":   {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Environment = map[string]string{"_A": "x"} }), wantField: "spec.services[0].lambda.environment[_A]", wantText: "a letter, then"},
		// Docker's env file takes lines of up to 64 KiB, newline included.
		"a server environment line of 65535": {xr: serverEnv("BIG", strings.Repeat("a", 65535-4))},
		"a server environment line of 65536": {xr: serverEnv("BIG", strings.Repeat("a", 65536-4)), wantField: "spec.environment.selfHosted.config.environment[BIG]", wantText: "over the 65535 Docker's env file takes"},
		"a Lambda reserved variable":         {xr: lambdaOf(func(l *v1alpha1.LambdaServiceSpec) { l.Environment = map[string]string{"AWS_REGION": "x"} }), wantField: "spec.services[0].lambda.environment[AWS_REGION]", wantText: "reserved"},
	} {
		cases[name] = c
	}
	runLimits(t, cases)
}

// TestNamesNoOtherStackCanTake: a stack's names are its own. Its log group
// lies in a part of CloudWatch Logs' names no other stack may name
// (provider-aws adopts a group that exists, so a stack naming another's
// would write to it and delete it), and no service name makes
// <stack>-fn-<service> another stack's function.
func TestNamesNoOtherStackCanTake(t *testing.T) {
	const groupPath = "spec.environment.selfHosted.logs.groupName"
	group := func(g string, claim ...string) func(*v1alpha1.XRestateStack) {
		return func(xr *v1alpha1.XRestateStack) {
			if len(claim) == 2 {
				xr.SetLabels(map[string]string{stack.LabelClaimNamespace: claim[0], stack.LabelClaimName: claim[1]})
			}
			xr.Spec.Environment.SelfHosted.Logs.GroupName = g
		}
	}
	service := func(name string) func(*v1alpha1.XRestateStack) {
		return withServices(s3Service(name))
	}
	runLimits(t, map[string]limit{
		"a composite's default group":       {xr: group("")},
		"a composite's own group":           {xr: group("/restate/demo-x7k2p")},
		"a group under a composite's own":   {xr: group("/restate/demo-x7k2p/server")},
		"a group beside a composite's own":  {xr: group("/restate/demo-x7k2px"), wantField: groupPath, wantText: "must be /restate/demo-x7k2p or lie under /restate/demo-x7k2p/"},
		"another composite's group":         {xr: group("/restate/payments"), wantField: groupPath, wantText: "where no other stack's group can be"},
		"a group outside /restate/":         {xr: group("/team-a/orders"), wantField: groupPath, wantText: "where no other stack's group can be"},
		"an AWS service's group":            {xr: group("/aws/lambda/payments"), wantField: groupPath, wantText: "AWS services keep their own"},
		"a claim's default group":           {xr: group("", "team-a", "orders")},
		"a claim's own group":               {xr: group("/restate/team-a/orders", "team-a", "orders")},
		"a group under a claim's own":       {xr: group("/restate/team-a/orders/server", "team-a", "orders")},
		"a group beside a claim's own":      {xr: group("/restate/team-a/orders-eu", "team-a", "orders"), wantField: groupPath, wantText: "lie under /restate/team-a/orders/"},
		"another namespace's claim's group": {xr: group("/restate/team-b/orders", "team-a", "orders"), wantField: groupPath, wantText: "must be /restate/team-a/orders"},
		"a service named fnord":             {xr: service("fnord")},
		"a service named a-fn":              {xr: service("a-fn")},
		"a service named fn-c":              {xr: service("fn-c"), wantField: "spec.services[0].name", wantText: "may not start with fn- or contain -fn-"},
		"a service named b-fn-c":            {xr: service("b-fn-c"), wantField: "spec.services[0].name", wantText: "may not start with fn- or contain -fn-"},
	})
}

// TestSecurityGroupNamesAndDescriptions: EC2 reserves group names that
// start with sg- and takes 255 characters of description, whatever the
// stack is called.
func TestSecurityGroupNamesAndDescriptions(t *testing.T) {
	for _, name := range []string{"sg-payments-x7k2p", "SG-x", "sgpayments-x7k2p", strings.Repeat("a", 247) + "-x7k2p"} {
		xr := newXR(func(xr *v1alpha1.XRestateStack) { xr.SetName(name) })
		d := compose(t, xr, newPolicy())
		for _, key := range []string{selfhosted.KeyIngressGroup, selfhosted.KeyAdminGroup} {
			g := str(d[key], "spec", "forProvider", "groupName")
			if strings.HasPrefix(strings.ToLower(g), "sg-") || len(g) > 255 {
				t.Errorf("stack %s: group name %q", name, g)
			}
			if desc := str(d[key], "spec", "forProvider", "description"); len(desc) > 255 || desc == "" {
				t.Errorf("stack %s: group description of %d characters", name, len(desc))
			}
		}
	}
}

func runLimits(t *testing.T, cases map[string]limit) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.wantField != "" {
				wantRejected(t, newXR(tc.xr), newPolicy(), tc.wantField, tc.wantText)
				return
			}
			for _, r := range run(t, newRequest(t, newXR(tc.xr), newPolicy())).GetResults() {
				if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
					t.Errorf("the last valid value is refused: %s", r.GetMessage())
				}
			}
		})
	}
}
