package setup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/scheduler"
	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/storage"
)

// Version is pgtier's version: the linker's -X value, else the module's.
func Version(linked string) string {
	if linked != "" {
		return linked
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// Logger writes structured logs to w: JSON unless w is a terminal.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// Store opens the configured object store. Credentials come from the
// standard AWS chain, never from the config.
func Store(ctx context.Context, cfg *configs.Config, logger *slog.Logger) (storage.Store, error) {
	s, err := storage.Open(ctx, storage.Options{
		URL:               cfg.Storage.URL,
		Endpoint:          cfg.Storage.Endpoint,
		Region:            cfg.Storage.Region,
		CAFile:            cfg.Storage.CAFile,
		AllowInsecureHTTP: cfg.Storage.AllowInsecureHTTP,
		SSE:               cfg.Storage.SSE,
		KMSKeyID:          cfg.Storage.KMSKeyID,
		Logger:            logger,
	})
	if err != nil {
		return nil, Usage(fmt.Errorf("storage: %w", err))
	}
	return s, nil
}

// Catalog opens the catalog of the config's environment (or of environment,
// when not empty) and cluster, checking manifest signatures with the
// config's verify keys.
func Catalog(store storage.Store, cfg *configs.Config, environment string, logger *slog.Logger) *catalog.Catalog {
	if environment == "" {
		environment = cfg.Environment
	}
	return catalog.New(store, catalog.Layout{Environment: environment, Cluster: cfg.Cluster}, logger).WithSigning(readerSigning(cfg))
}

// DaemonCatalog is the daemon's catalog: it signs what it commits.
func DaemonCatalog(store storage.Store, cfg *configs.Config, logger *slog.Logger) (*catalog.Catalog, error) {
	signing, err := daemonSigning(cfg)
	if err != nil {
		return nil, err
	}
	return catalog.New(store, catalog.Layout{Environment: cfg.Environment, Cluster: cfg.Cluster}, logger).WithSigning(signing), nil
}

// Conn is the connection to the configured cluster's database db.
func Conn(cfg *configs.Config, db string) (snapshot.Conn, error) {
	pw, err := cfg.Postgres.Password()
	if err != nil {
		return snapshot.Conn{}, Usage(err)
	}
	return snapshot.Conn{
		Host:     cfg.Postgres.Host,
		Port:     cfg.Postgres.Port,
		User:     cfg.Postgres.User,
		Password: pw,
		SSLMode:  cfg.Postgres.SSLMode,
		Database: db,
	}, nil
}

// Tools finds the pg_dump family that matches the server behind conn.
func Tools(ctx context.Context, cfg *configs.Config, conn snapshot.Conn) (snapshot.Tools, snapshot.ServerInfo, error) {
	info, err := snapshot.Preflight(ctx, conn)
	if err != nil {
		return snapshot.Tools{}, info, err
	}
	tools, err := snapshot.FindTools(cfg.Postgres.BinDir, info.Major)
	if err != nil {
		return snapshot.Tools{}, info, Usage(err)
	}
	return tools, info, nil
}

// LockMode is the S3 object-lock mode the config asks for, "" for none.
func LockMode(cfg *configs.Config) string {
	if strings.HasPrefix(cfg.Storage.URL, "file://") || cfg.Storage.ObjectLock == "off" {
		return ""
	}
	return strings.ToUpper(cfg.Storage.ObjectLock)
}

// Job builds the backup job of the configured cluster.
func Job(ctx context.Context, cfg *configs.Config, store storage.Store, version string, logger *slog.Logger, now func() time.Time) (*scheduler.Job, snapshot.Conn, error) {
	policy, err := Policy(cfg, now())
	if err != nil {
		return nil, snapshot.Conn{}, err
	}
	cat, err := DaemonCatalog(store, cfg, logger)
	if err != nil {
		return nil, snapshot.Conn{}, err
	}
	admin, err := Conn(cfg, "postgres")
	if err != nil {
		return nil, admin, err
	}
	tools, _, err := Tools(ctx, cfg, admin)
	if err != nil {
		return nil, admin, err
	}
	recipients, public, err := crypto.LoadRecipients(cfg.Encryption.RecipientsFile)
	if err != nil {
		return nil, admin, Usage(err)
	}
	host, _ := os.Hostname()
	job := &scheduler.Job{
		Catalog:          cat,
		Tools:            tools,
		Conn:             admin,
		Keys:             scheduler.Keys{Recipients: recipients, Public: public},
		CompressionLevel: cfg.Compression.Level,
		Policy:           policy,
		LockMode:         LockMode(cfg),
		Host:             host,
		Version:          version,
		Logger:           logger,
		Now:              now,
	}
	return job, admin, nil
}

// Pruner builds the pruner of the configured cluster over cat.
func Pruner(cfg *configs.Config, cat *catalog.Catalog, store storage.Store, logger *slog.Logger, now func() time.Time) (*scheduler.Pruner, error) {
	policy, err := Policy(cfg, now())
	if err != nil {
		return nil, err
	}
	return &scheduler.Pruner{
		Catalog: cat,
		Store:   store,
		Policy:  policy,
		Logger:  logger,
		Now:     now,
	}, nil
}
