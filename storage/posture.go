package storage

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Names of the posture checks, in the order Posture reports them.
const (
	CheckVersioning        = "versioning"
	CheckObjectLock        = "object_lock"
	CheckPublicAccessBlock = "public_access_block"
	CheckPolicyStatus      = "policy_status"
	CheckEncryption        = "default_encryption"
	CheckTLSOnly           = "tls_only"
	CheckLifecycle         = "lifecycle"
)

// Statuses of a posture check. Unknown means the check could not be made
// (the server does not implement it, the credentials may not read it, or the
// store has no such setting); it is never a pass.
const (
	StatusOK      = "ok"
	StatusFail    = "fail"
	StatusWarn    = "warn"
	StatusUnknown = "unknown"
)

// Check is the outcome of one posture check. Detail is one line for an
// operator: what was found and, when it is not ok, what to do.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Posture is what a store's settings do for the safety of the backups in it.
type Posture struct {
	Store  string  `json:"store"` // the store's URL, as String gives it
	Checks []Check `json:"checks"`
}

// Get returns the check called name.
func (p Posture) Get(name string) (Check, bool) {
	i := slices.IndexFunc(p.Checks, func(c Check) bool { return c.Name == name })
	if i < 0 {
		return Check{}, false
	}
	return p.Checks[i], true
}

// Failed returns the checks whose status is fail.
func (p Posture) Failed() []Check {
	return slices.DeleteFunc(slices.Clone(p.Checks), func(c Check) bool { return c.Status != StatusFail })
}

// Blocking returns the checks that must stop the daemon unless the operator
// has opted out: object lock failed or unknown (without it, or without
// knowing it is there, nothing shows that backups are immutable), versioning
// failed, or a public bucket (policy status failed).
func (p Posture) Blocking() []Check {
	return slices.DeleteFunc(slices.Clone(p.Checks), func(c Check) bool {
		switch c.Name {
		case CheckObjectLock:
			return c.Status == StatusOK
		case CheckVersioning, CheckPolicyStatus:
			return c.Status != StatusFail
		}
		return true
	})
}

// allNames is every check, in report order.
var allNames = []string{CheckVersioning, CheckObjectLock, CheckPublicAccessBlock,
	CheckPolicyStatus, CheckEncryption, CheckTLSOnly, CheckLifecycle}

// notApplicable is the posture of a store without bucket settings: every
// check unknown, so Blocking reports the missing object lock.
func notApplicable(store, what string) Posture {
	p := Posture{Store: store}
	for _, n := range allNames {
		p.Checks = append(p.Checks, Check{n, StatusUnknown, "not applicable: " + what + " has no bucket settings"})
	}
	return p
}

// Posture of a local directory: every check is unknown (not applicable), so
// Blocking names the missing object lock.
func (l *Local) Posture(context.Context) Posture {
	return notApplicable(l.String(), "a local directory")
}

// Posture of a memory store: every check is unknown (not applicable), so
// Blocking names the missing object lock.
func (m *Memory) Posture(context.Context) Posture { return notApplicable(m.String(), "a memory store") }

// Posture reads the bucket's settings: versioning, object lock and its
// default retention, public access block, policy status, default
// encryption, a bucket policy that refuses plain HTTP, and a lifecycle rule
// that expires non-current versions and aborts incomplete uploads. It makes
// read-only requests (the s3:GetBucket* permissions of configs/iam) and
// never fails: what it cannot read is reported as unknown.
func (s *S3) Posture(ctx context.Context) Posture {
	p := Posture{Store: s.String()}
	b := &s.bucket
	ver, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if code, _ := apiCode(err); err != nil && (code == "" || code == "NoSuchBucket") {
		status, detail := StatusUnknown, "cannot reach the bucket: "+short(err)
		if code == "NoSuchBucket" {
			status, detail = StatusFail, "the bucket "+s.bucket+" does not exist"
		}
		for _, n := range allNames {
			p.Checks = append(p.Checks, Check{n, status, detail})
		}
		return p
	}
	lock, lockErr := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	pab, pabErr := s.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	st, stErr := s.client.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
	pol, polErr := s.client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
	enc, encErr := s.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	lc, lcErr := s.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	var policy string
	if polErr == nil && pol.Policy != nil {
		policy = *pol.Policy
	}
	var isPublic *bool
	if stErr == nil && st.PolicyStatus != nil {
		isPublic = st.PolicyStatus.IsPublic
	}
	p.Checks = []Check{
		versioningCheck(ver, err),
		lockCheck(lock, lockErr),
		publicAccessBlockCheck(pab, pabErr),
		policyStatusCheck(isPublic, stErr, policy, polErr),
		encryptionCheck(enc, encErr),
		tlsOnlyCheck(policy, polErr, s.bucket, s.prefix),
		lifecycleCheck(lc, lcErr, s.prefix),
	}
	return p
}

// apiCode returns the S3 error code and HTTP status of err, "" and 0 when
// the server gave none.
func apiCode(err error) (string, int) {
	code, status := "", 0
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// short is an error for a Detail: the server's code and message when there
// are some, else the whole error.
func short(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return strings.TrimSuffix(ae.ErrorCode()+": "+ae.ErrorMessage(), ": ")
	}
	return err.Error()
}

// readError turns the error of a posture read into a check. One of the codes
// in absent (the setting is not configured) gives the check ifAbsent; a
// server that does not implement the read, a refusal and anything else give
// unknown.
func readError(name, permission string, err error, ifAbsent Check, absent ...string) Check {
	code, status := apiCode(err)
	switch {
	case slices.Contains(absent, code):
		ifAbsent.Name = name
		return ifAbsent
	case code == "NotImplemented" || code == "XNotImplemented" || code == "MethodNotAllowed" ||
		status == http.StatusNotImplemented || status == http.StatusMethodNotAllowed:
		return Check{name, StatusUnknown, "the server does not implement this check (" + short(err) + ")"}
	case code == "AccessDenied" || status == http.StatusForbidden:
		return Check{name, StatusUnknown, "access denied: the credentials need " + permission}
	default:
		return Check{name, StatusUnknown, "cannot read: " + short(err)}
	}
}
