package storage

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func versioningCheck(out *s3.GetBucketVersioningOutput, err error) Check {
	if err != nil {
		return readError(CheckVersioning, "s3:GetBucketVersioning", err, Check{})
	}
	switch out.Status {
	case types.BucketVersioningStatusEnabled:
		return Check{CheckVersioning, StatusOK, "enabled"}
	case types.BucketVersioningStatusSuspended:
		return Check{CheckVersioning, StatusFail, "suspended: a delete removes data for good; enable versioning and object lock"}
	}
	return Check{CheckVersioning, StatusFail, "never enabled: use a bucket created with object lock, which turns versioning on"}
}

func lockCheck(out *s3.GetObjectLockConfigurationOutput, err error) Check {
	absent := Check{Status: StatusFail, Detail: "object lock is not enabled, so backups can be deleted before their minimum age; use a bucket created with object lock"}
	if err != nil {
		return readError(CheckObjectLock, "s3:GetBucketObjectLockConfiguration", err, absent, "ObjectLockConfigurationNotFoundError")
	}
	c := out.ObjectLockConfiguration
	if c == nil || c.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		absent.Name = CheckObjectLock
		return absent
	}
	if c.Rule == nil || c.Rule.DefaultRetention == nil {
		return Check{CheckObjectLock, StatusOK, "enabled, no default retention (pgtier sets a retain-until date on each object)"}
	}
	d := c.Rule.DefaultRetention
	span := ""
	if d.Days != nil {
		span = plural(*d.Days, "day")
	}
	if d.Years != nil {
		span = plural(*d.Years, "year")
	}
	return Check{CheckObjectLock, StatusOK, fmt.Sprintf("enabled, default retention %s %s", d.Mode, span)}
}

func publicAccessBlockCheck(out *s3.GetPublicAccessBlockOutput, err error) Check {
	absent := Check{Status: StatusWarn, Detail: "no public access block; turn on all four settings so no policy or ACL can make the bucket public"}
	if err != nil {
		return readError(CheckPublicAccessBlock, "s3:GetBucketPublicAccessBlock", err, absent, "NoSuchPublicAccessBlockConfiguration")
	}
	c := out.PublicAccessBlockConfiguration
	if c == nil {
		absent.Name = CheckPublicAccessBlock
		return absent
	}
	var off []string
	for _, s := range []struct {
		name string
		on   *bool
	}{{"BlockPublicAcls", c.BlockPublicAcls}, {"IgnorePublicAcls", c.IgnorePublicAcls},
		{"BlockPublicPolicy", c.BlockPublicPolicy}, {"RestrictPublicBuckets", c.RestrictPublicBuckets}} {
		if s.on == nil || !*s.on {
			off = append(off, s.name)
		}
	}
	if len(off) > 0 {
		return Check{CheckPublicAccessBlock, StatusWarn, strings.Join(off, ", ") + " off; turn on all four settings"}
	}
	return Check{CheckPublicAccessBlock, StatusOK, "all four settings on"}
}

func encryptionCheck(out *s3.GetBucketEncryptionOutput, err error) Check {
	absent := Check{Status: StatusWarn, Detail: "no default encryption; backups are age-encrypted, but set a bucket default (SSE-S3 or SSE-KMS) for the rest"}
	if err != nil {
		return readError(CheckEncryption, "s3:GetEncryptionConfiguration", err, absent, "ServerSideEncryptionConfigurationNotFoundError")
	}
	if c := out.ServerSideEncryptionConfiguration; c != nil {
		for _, r := range c.Rules {
			if d := r.ApplyServerSideEncryptionByDefault; d != nil && d.SSEAlgorithm != "" {
				detail := string(d.SSEAlgorithm)
				if d.KMSMasterKeyID != nil && *d.KMSMasterKeyID != "" {
					detail += " with key " + *d.KMSMasterKeyID
				}
				return Check{CheckEncryption, StatusOK, detail}
			}
		}
	}
	absent.Name = CheckEncryption
	return absent
}

// lifecycleCheck looks for enabled rules that cover the store's prefix and
// expire non-current versions and abort incomplete multipart uploads. The
// first is needed for ok: without it, pruned backups stay stored as
// non-current versions for ever.
func lifecycleCheck(out *s3.GetBucketLifecycleConfigurationOutput, err error, prefix string) Check {
	absent := Check{Status: StatusWarn, Detail: "no lifecycle rules: pruned backups stay stored as non-current versions; apply configs/iam/lifecycle.json"}
	if err != nil {
		return readError(CheckLifecycle, "s3:GetLifecycleConfiguration", err, absent, "NoSuchLifecycleConfiguration")
	}
	var versions, uploads int32
	for _, r := range out.Rules {
		if r.Status != types.ExpirationStatusEnabled || !rulePrefixCovers(r, prefix) {
			continue
		}
		if e := r.NoncurrentVersionExpiration; e != nil && e.NoncurrentDays != nil && *e.NoncurrentDays > 0 && versions == 0 {
			versions = *e.NoncurrentDays
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil && a.DaysAfterInitiation != nil && *a.DaysAfterInitiation > 0 && uploads == 0 {
			uploads = *a.DaysAfterInitiation
		}
	}
	switch {
	case versions > 0 && uploads > 0:
		return Check{CheckLifecycle, StatusOK, "non-current versions expire after " + plural(versions, "day") + ", incomplete uploads are aborted after " + plural(uploads, "day")}
	case versions > 0:
		// Prune aborts the incomplete uploads it finds, and some servers
		// (MinIO) drop this element of a rule and clean up on their own.
		return Check{CheckLifecycle, StatusOK, "non-current versions expire after " + plural(versions, "day") + "; no rule aborts incomplete multipart uploads (prune aborts those it finds)"}
	case uploads > 0:
		return Check{CheckLifecycle, StatusWarn, "no rule expires non-current versions, so pruned backups stay stored; see configs/iam/lifecycle.json"}
	}
	absent.Detail = "no enabled lifecycle rule for this prefix expires non-current versions or aborts incomplete uploads; apply configs/iam/lifecycle.json"
	absent.Name = CheckLifecycle
	return absent
}

// rulePrefixCovers reports whether a lifecycle rule applies to every object
// under prefix: no tag or size filter, and a key prefix that is empty or
// leads to prefix.
func rulePrefixCovers(r types.LifecycleRule, prefix string) bool {
	p := ""
	// Rules written before Filter existed carry the deprecated top-level
	// Prefix, and servers still return them.
	if r.Prefix != nil { //nolint:staticcheck // see above
		p = *r.Prefix //nolint:staticcheck // see above
	}
	if f := r.Filter; f != nil {
		if f.Tag != nil || f.And != nil || f.ObjectSizeGreaterThan != nil || f.ObjectSizeLessThan != nil {
			return false
		}
		if f.Prefix != nil {
			p = *f.Prefix
		}
	}
	return strings.HasPrefix(prefix, p)
}

// plural returns "1 day", "2 days".
func plural(n int32, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
