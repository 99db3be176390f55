package storage

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "server says " + code}
}

// httpErr is an error with an HTTP status and no S3 code, as for a HEAD.
func httpErr(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      errors.New("http error"),
	}}
}

func wantCheck(t *testing.T, c Check, name, status, detail string) {
	t.Helper()
	if c.Name != name || c.Status != status || !strings.Contains(c.Detail, detail) {
		t.Errorf("got %+v, want %s %s containing %q", c, name, status, detail)
	}
}

func TestReadError(t *testing.T) {
	absent := Check{Status: StatusWarn, Detail: "missing"}
	for _, tc := range []struct {
		err            error
		status, detail string
	}{
		{apiErr("NoSuchThing"), StatusWarn, "missing"},
		{apiErr("NotImplemented"), StatusUnknown, "does not implement"},
		{apiErr("XNotImplemented"), StatusUnknown, "does not implement"},
		{httpErr(http.StatusNotImplemented), StatusUnknown, "does not implement"},
		{httpErr(http.StatusMethodNotAllowed), StatusUnknown, "does not implement"},
		{apiErr("AccessDenied"), StatusUnknown, "credentials need s3:GetX"},
		{httpErr(http.StatusForbidden), StatusUnknown, "credentials need s3:GetX"},
		{apiErr("InternalError"), StatusUnknown, "cannot read: InternalError: server says InternalError"},
		{errors.New("connection reset"), StatusUnknown, "cannot read: connection reset"},
	} {
		wantCheck(t, readError("x", "s3:GetX", tc.err, absent, "NoSuchThing"), "x", tc.status, tc.detail)
	}
}

func TestBucketChecks(t *testing.T) {
	on, off := aws.Bool(true), aws.Bool(false)
	for _, tc := range []struct {
		c                    Check
		name, status, detail string
	}{
		{versioningCheck(&s3.GetBucketVersioningOutput{Status: types.BucketVersioningStatusEnabled}, nil), CheckVersioning, StatusOK, "enabled"},
		{versioningCheck(&s3.GetBucketVersioningOutput{Status: types.BucketVersioningStatusSuspended}, nil), CheckVersioning, StatusFail, "suspended"},
		{versioningCheck(&s3.GetBucketVersioningOutput{}, nil), CheckVersioning, StatusFail, "never enabled"},
		{versioningCheck(nil, apiErr("AccessDenied")), CheckVersioning, StatusUnknown, "s3:GetBucketVersioning"},

		{lockCheck(nil, apiErr("ObjectLockConfigurationNotFoundError")), CheckObjectLock, StatusFail, "not enabled"},
		{lockCheck(&s3.GetObjectLockConfigurationOutput{ObjectLockConfiguration: &types.ObjectLockConfiguration{}}, nil), CheckObjectLock, StatusFail, "not enabled"},
		{lockCheck(&s3.GetObjectLockConfigurationOutput{ObjectLockConfiguration: &types.ObjectLockConfiguration{
			ObjectLockEnabled: types.ObjectLockEnabledEnabled}}, nil), CheckObjectLock, StatusOK, "no default retention"},
		{lockCheck(&s3.GetObjectLockConfigurationOutput{ObjectLockConfiguration: &types.ObjectLockConfiguration{
			ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
				Mode: types.ObjectLockRetentionModeCompliance, Years: aws.Int32(3)}}}}, nil), CheckObjectLock, StatusOK, "COMPLIANCE 3 years"},
		{lockCheck(nil, apiErr("NotImplemented")), CheckObjectLock, StatusUnknown, "does not implement"},

		{publicAccessBlockCheck(nil, apiErr("NoSuchPublicAccessBlockConfiguration")), CheckPublicAccessBlock, StatusWarn, "no public access block"},
		{publicAccessBlockCheck(&s3.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}}, nil), CheckPublicAccessBlock, StatusOK, "all four"},
		{publicAccessBlockCheck(&s3.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: on, IgnorePublicAcls: off, BlockPublicPolicy: on}}, nil), CheckPublicAccessBlock, StatusWarn, "IgnorePublicAcls, RestrictPublicBuckets off"},

		{encryptionCheck(nil, apiErr("ServerSideEncryptionConfigurationNotFoundError")), CheckEncryption, StatusWarn, "no default encryption"},
		{encryptionCheck(&s3.GetBucketEncryptionOutput{ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
			Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
				SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("arn:key")}}}}}, nil), CheckEncryption, StatusOK, "aws:kms with key arn:key"},
		{encryptionCheck(&s3.GetBucketEncryptionOutput{ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{}}, nil), CheckEncryption, StatusWarn, "no default encryption"},
	} {
		wantCheck(t, tc.c, tc.name, tc.status, tc.detail)
	}
}

func TestLifecycleCheck(t *testing.T) {
	versions := &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7)}
	uploads := &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)}
	rule := func(prefix string, f *types.LifecycleRuleFilter) types.LifecycleRule {
		if f == nil {
			f = &types.LifecycleRuleFilter{Prefix: aws.String(prefix)}
		}
		return types.LifecycleRule{Status: types.ExpirationStatusEnabled, Filter: f,
			NoncurrentVersionExpiration: versions, AbortIncompleteMultipartUpload: uploads}
	}
	out := func(rs ...types.LifecycleRule) *s3.GetBucketLifecycleConfigurationOutput {
		return &s3.GetBucketLifecycleConfigurationOutput{Rules: rs}
	}
	disabled := rule("", nil)
	disabled.Status = types.ExpirationStatusDisabled
	onlyUploads := rule("", nil)
	onlyUploads.NoncurrentVersionExpiration = nil
	onlyVersions := rule("", nil)
	onlyVersions.AbortIncompleteMultipartUpload = nil
	legacy := types.LifecycleRule{Status: types.ExpirationStatusEnabled, NoncurrentVersionExpiration: versions,
		Prefix: aws.String("pg")} //nolint:staticcheck // old rules still use it
	for _, tc := range []struct {
		name           string
		out            *s3.GetBucketLifecycleConfigurationOutput
		err            error
		status, detail string
	}{
		{"none", nil, apiErr("NoSuchLifecycleConfiguration"), StatusWarn, "no lifecycle rules"},
		{"whole bucket", out(rule("", nil)), nil, StatusOK, "after 7 days, incomplete uploads are aborted after 2 days"},
		{"parent prefix", out(rule("pgtier/", nil)), nil, StatusOK, "after 7 days"},
		{"other prefix", out(rule("other/", nil)), nil, StatusWarn, "no enabled lifecycle rule"},
		{"narrower prefix", out(rule("pgtier/prod/x", nil)), nil, StatusWarn, "no enabled lifecycle rule"},
		{"tag filter", out(rule("", &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("k")}})), nil, StatusWarn, "no enabled"},
		{"disabled", out(disabled), nil, StatusWarn, "no enabled"},
		{"uploads only", out(onlyUploads), nil, StatusWarn, "no rule expires non-current versions"},
		{"versions only", out(onlyVersions), nil, StatusOK, "no rule aborts incomplete multipart uploads"},
		{"legacy prefix", out(legacy), nil, StatusOK, "after 7 days"},
		{"split rules", out(onlyUploads, onlyVersions), nil, StatusOK, "aborted after 2 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCheck(t, lifecycleCheck(tc.out, tc.err, "pgtier/prod/"), CheckLifecycle, tc.status, tc.detail)
		})
	}
}

const tlsStatement = `{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
	"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`

func TestTLSOnlyCheck(t *testing.T) {
	for _, tc := range []struct {
		name, policy   string
		err            error
		status, detail string
	}{
		{"no policy", "", apiErr("NoSuchBucketPolicy"), StatusWarn, "no bucket policy"},
		{"not implemented", "", apiErr("NotImplemented"), StatusUnknown, "does not implement"},
		{"shipped", `{"Statement":[` + tlsStatement + `]}`, nil, StatusOK, "denies requests without TLS"},
		{"single statement", `{"Statement":` + tlsStatement + `}`, nil, StatusOK, "denies"},
		{"minio form", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["s3:*"],
			"Resource":["arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":[false]}}}]}`, nil, StatusOK, "denies"},
		{"prefix resource", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/pgtier/*",
			"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, nil, StatusOK, "denies"},
		{"other prefix", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/logs/*",
			"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, nil, StatusWarn, "does not deny"},
		{"some actions", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*",
			"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, nil, StatusWarn, "does not deny"},
		{"allow", strings.Replace(`{"Statement":[`+tlsStatement+`]}`, `"Effect":"Deny"`, `"Effect":"Allow"`, 1), nil, StatusWarn, "does not deny"},
		{"true", strings.Replace(`{"Statement":[`+tlsStatement+`]}`, `"false"`, `"true"`, 1), nil, StatusWarn, "does not deny"},
		{"one principal", strings.Replace(`{"Statement":[`+tlsStatement+`]}`, `"*",`, `{"AWS":"arn:aws:iam::1:root"},`, 1), nil, StatusWarn, "does not deny"},
		{"garbage", `{"Statement":[{"Action":3}]}`, nil, StatusUnknown, "cannot parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCheck(t, tlsOnlyCheck(tc.policy, tc.err, "b", "pgtier/prod/"), CheckTLSOnly, tc.status, tc.detail)
		})
	}
}

func TestPolicyStatusCheck(t *testing.T) {
	yes, no := aws.Bool(true), aws.Bool(false)
	noPolicy := apiErr("NoSuchBucketPolicy")
	open := `{"Statement":[{"Sid":"Web","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	conditional := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*",
		"Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}`
	for _, tc := range []struct {
		name           string
		public         *bool
		stErr          error
		policy         string
		polErr         error
		status, detail string
	}{
		{"no policy", nil, noPolicy, "", noPolicy, StatusOK, "no bucket policy"},
		{"server public", yes, nil, "", noPolicy, StatusFail, "reports the bucket as public"},
		{"server public and open", yes, nil, open, nil, StatusFail, "lets anyone s3:GetObject (statement Web)"},
		{"server not public", no, nil, `{"Statement":[` + tlsStatement + `]}`, nil, StatusOK, "not public"},
		{"open read the server misses", no, nil, open, nil, StatusFail, "lets anyone s3:GetObject (statement Web)"},
		{"conditional, server says no", no, nil, conditional, nil, StatusOK, "not public"},
		{"conditional, no server", nil, apiErr("NotImplemented"), conditional, nil, StatusWarn, "under conditions"},
		{"open, no server", nil, apiErr("NotImplemented"), open, nil, StatusFail, "lets anyone"},
		{"nothing known", nil, apiErr("NotImplemented"), "", apiErr("NotImplemented"), StatusUnknown, "does not implement"},
		{"denied", nil, apiErr("AccessDenied"), "", apiErr("AccessDenied"), StatusUnknown, "s3:GetBucketPolicyStatus"},
		{"no verdict", nil, nil, "", noPolicy, StatusUnknown, "no verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCheck(t, policyStatusCheck(tc.public, tc.stErr, tc.policy, tc.polErr), CheckPolicyStatus, tc.status, tc.detail)
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "arn:aws:s3:::b/k", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::bb/a", false},
		{"arn:aws:s3:::b", "arn:aws:s3:::b/a", false},
		{"arn:aws:s3:::b/*.manifest.json", "arn:aws:s3:::b/p/c/d/1.manifest.json", true},
		{"arn:aws:s3:::b/*.manifest.json", "arn:aws:s3:::b/p/1.dump.zst.age", false},
		{"arn:aws:s3:::?/*", "arn:aws:s3:::b/x", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"*x", "*ax", true},
	} {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestBlocking(t *testing.T) {
	p := Posture{Checks: []Check{
		{CheckVersioning, StatusOK, ""}, {CheckObjectLock, StatusUnknown, ""},
		{CheckPolicyStatus, StatusUnknown, ""}, {CheckTLSOnly, StatusFail, ""},
	}}
	var got []string
	for _, c := range p.Blocking() {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, []string{CheckObjectLock}) {
		t.Errorf("blocking %v", got)
	}
	if f := p.Failed(); len(f) != 1 || f[0].Name != CheckTLSOnly {
		t.Errorf("failed %v", f)
	}
	if _, ok := p.Get("nope"); ok {
		t.Error("Get found a check that is not there")
	}
}
