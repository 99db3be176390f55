package storage

const (
	mib = 1 << 20
	// MaxParts is the largest number of parts in one S3 multipart upload.
	MaxParts = 10000
	// MinPartSize is the smallest part S3 accepts (all but the last part).
	MinPartSize = 5 * mib
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// DefaultPartSize is PartSizeFor's floor: the part size for inputs of
	// unknown or modest size, good for objects up to about 39 GiB.
	DefaultPartSize = 8 * mib
	// DefaultConcurrency is the number of parts uploaded at once when
	// Options.Concurrency is 0.
	DefaultConcurrency = 4
)

// PartSizeFor returns the part size for an input of about estimate bytes
// (0 or less when unknown): large enough that MaxParts parts hold twice the
// estimate, rounded up to a MiB, at least DefaultPartSize and at most
// MaxPartSize. The factor of two covers a compressed size that outgrows its
// estimate.
func PartSizeFor(estimate int64) int64 {
	return min(max(fitPartSize(estimate), DefaultPartSize), MaxPartSize)
}

// fitPartSize is the smallest whole-MiB part size with which MaxParts parts
// hold twice estimate; 0 for an unknown estimate.
func fitPartSize(estimate int64) int64 {
	if estimate <= 0 {
		return 0
	}
	const limit = MaxPartSize * MaxParts / 2
	if estimate >= limit {
		return MaxPartSize
	}
	per := (2*estimate + MaxParts - 1) / MaxParts
	return (per + mib - 1) / mib * mib
}
