package setup

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/scheduler"
	"github.com/pgtier/pgtier/storage"
)

// cloudIdentityTimeout bounds the STS call that names the cloud caller: an
// audit record does not wait long for a detail the server may not give.
const cloudIdentityTimeout = 2 * time.Second

// auditURL is the storage URL of the audit log: audit.url, else the
// storage URL.
func auditURL(cfg *configs.Config) string {
	if cfg.Audit.URL != "" {
		return cfg.Audit.URL
	}
	return cfg.Storage.URL
}

// AuditLocation names where the audit records of the config's environment
// go, for messages: the audit log's storage URL and the records' prefix.
func AuditLocation(cfg *configs.Config) string {
	return strings.TrimSuffix(auditURL(cfg), "/") + "/" + audit.Prefix(cfg.Environment)
}

// AuditLog opens the restore-access log of the config's environment. It
// lives in audit.url, opened like the main store (same endpoint, region, CA,
// encryption and credential chain), or in store itself when audit.url is
// "". It does not contact the store.
//
// Records are written with the config's object-lock mode (none on file://)
// and retained until the time they are written plus the longest tier's
// max: the record of a restore outlives every backup it could concern, so
// no backup exists whose accesses can no longer be shown.
func AuditLog(ctx context.Context, cfg *configs.Config, store storage.Store, logger *slog.Logger) (*audit.Log, error) {
	if cfg.Audit.URL != "" {
		c := *cfg
		c.Storage.URL = cfg.Audit.URL
		s, err := Store(ctx, &c, logger)
		if err != nil {
			return nil, fmt.Errorf("audit.url: %w", err)
		}
		store = s
	}
	o := audit.Options{Logger: logger}
	if !strings.HasPrefix(auditURL(cfg), "file://") {
		o.LockMode = LockMode(cfg)
	}
	if o.LockMode != "" {
		tiers := []configs.Tier{cfg.Tiers.Base, cfg.Tiers.Daily, cfg.Tiers.Weekly, cfg.Tiers.Monthly}
		o.LockUntil = func(written time.Time) time.Time {
			until := written
			for _, t := range tiers {
				if u := t.Max.AddTo(written); u.After(until) {
					until = u
				}
			}
			return until
		}
	}
	log, err := audit.New(store, cfg.Environment, o)
	if err != nil {
		return nil, Usage(err)
	}
	return log, nil
}

// CloudIdentity returns the ARN the storage credentials act as, from STS
// GetCallerIdentity on the configured endpoint (AWS's STS when none is
// set), or "" when the store is not S3 or the call fails within two
// seconds: not every S3-compatible server implements STS. It never fails.
func CloudIdentity(ctx context.Context, cfg *configs.Config, logger *slog.Logger) string {
	if !strings.HasPrefix(cfg.Storage.URL, "s3://") && !strings.HasPrefix(auditURL(cfg), "s3://") {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, cloudIdentityTimeout)
	defer cancel()
	arn, err := callerIdentity(ctx, cfg)
	if err != nil {
		logger.Debug("the storage server did not name the cloud caller; the audit record leaves cloud_identity empty", "error", err)
		return ""
	}
	return arn
}

func callerIdentity(ctx context.Context, cfg *configs.Config) (string, error) {
	hc, err := storage.HTTPClient(cfg.Storage.CAFile)
	if err != nil {
		return "", err
	}
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(hc), config.WithRetryMaxAttempts(1)}
	if cfg.Storage.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Storage.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", fmt.Errorf("loading aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		if cfg.Storage.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(cfg.Storage.Endpoint, "/"))
		}
	})
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sts get-caller-identity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}

// AuditMetrics verifies the audit log and exports the result: the chain's
// state and the accesses by result (Metrics.Audit), and the last successful
// verify of each database of cluster (Metrics.VerifiedFromAudit). A log
// that cannot be read is logged and leaves the metrics as they were. The
// log should live as long as the daemon's plan: it remembers the newest
// record it verified and checks next time that it is unchanged.
func AuditMetrics(ctx context.Context, log *audit.Log, cluster string, metrics *scheduler.Metrics, logger *slog.Logger) {
	rep, err := log.Verify(ctx)
	if err != nil {
		logger.Error("reading the audit log for metrics; the audit metrics keep their last values", "error", err)
		return
	}
	metrics.Audit(rep)
	if !rep.OK {
		logger.Error("the audit log is broken; run backupctl audit verify", "first_bad", rep.FirstBad, "problem", rep.Problem)
	}
	records, err := log.List(ctx)
	if err != nil {
		logger.Warn("listing the audit log for the verify metrics", "error", err)
		return
	}
	metrics.VerifiedFromAudit(cluster, records)
}
