package storage

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// classify maps an S3 error to the package's sentinels, keeping the server's
// error in the chain: a missing key or version to ErrNotFound, a failed
// If-None-Match to ErrExists, a refused delete of a retained version to
// ErrLocked, an unsupported storage class to ErrInvalidStorageClass. A
// missing bucket is not ErrNotFound. nil stays nil.
func classify(err error) error {
	if err == nil {
		return nil
	}
	code, msg := "", ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket":
		return err
	case code == "NoSuchKey", code == "NoSuchVersion", code == "NoSuchUpload",
		code == "NotFound", status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case code == "PreconditionFailed", status == http.StatusPreconditionFailed,
		code == "ConditionalRequestConflict":
		return fmt.Errorf("%w: %w", ErrExists, err)
	case (code == "AccessDenied" || code == "InvalidRequest") && lockMessage(msg):
		return fmt.Errorf("%w: %w", ErrLocked, err)
	case code == "InvalidStorageClass":
		return fmt.Errorf("%w: %w", ErrInvalidStorageClass, err)
	}
	return err
}

// lockMessage tells a refusal that blames object lock (AWS: 403
// AccessDenied "... protected by object lock"; MinIO: 400 InvalidRequest
// "Object is WORM protected and cannot be overwritten") from one that blames
// the caller's permissions or request.
func lockMessage(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"worm", "object lock", "object-lock", "retention"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// classifyPut classifies the error of the request that creates the object
// of a put with o. With IfMatch, a failed precondition (412, or 409 for a
// concurrent conditional write) and a missing key (404: the object was never
// there or is now a delete marker) are ErrPrecondition, and not ErrExists or
// ErrNotFound; everything else is as classify says.
func classifyPut(err error, o PutOptions) error {
	if err == nil || o.IfMatch == "" {
		return classify(err)
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket", code == "NoSuchUpload":
		return classify(err)
	case code == "PreconditionFailed", code == "ConditionalRequestConflict",
		code == "NoSuchKey", code == "NotFound",
		status == http.StatusPreconditionFailed, status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrPrecondition, err)
	}
	return classify(err)
}
