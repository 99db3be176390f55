package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// shutdownTimeout bounds how long the server waits for scrapes in flight
// once its context ends.
const shutdownTimeout = 5 * time.Second

// Server serves /metrics and /healthz on one address, with TLS and basic
// auth when an exporter web-config file is given
// (https://prometheus.io/docs/prometheus/latest/configuration/https/).
// The web-config file covers every path, /healthz included.
type Server struct {
	listener  net.Listener
	webConfig string
	http      *http.Server
	logger    *slog.Logger
}

// Listen checks the web-config file (empty: plain HTTP, no auth) and binds
// listen (host:port), so that a bad file or an address in use is an error
// before the daemon starts; nothing is served until Serve. healthy is called
// on every /healthz request, possibly concurrently: nil means healthy, an
// error is the reason given, on one line, with a 503; a nil healthy is always
// healthy. reg is gathered on every /metrics request. Close releases the
// listener of a server that will not be served.
func Listen(listen, webConfigFile string, reg prometheus.Gatherer, healthy func() error, logger *slog.Logger) (*Server, error) {
	if err := web.Validate(webConfigFile); err != nil {
		return nil, fmt.Errorf("reading the metrics web config %s: %w", webConfigFile, err)
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", listen, err)
	}
	if healthy == nil {
		healthy = func() error { return nil }
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, oneLine(err.Error())+"\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "pgtier backupd\n/metrics\n/healthz\n")
	})
	return &Server{
		listener:  l,
		webConfig: webConfigFile,
		logger:    logger,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the address the server listens on (the port chosen, for ":0").
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Close releases the listener of a server that was never served.
func (s *Server) Close() error { return s.listener.Close() }

// Serve serves until ctx ends, then stops accepting, waits up to five
// seconds for requests in flight and returns nil. Any other end of serving
// is returned as an error. Serve may be called once.
func (s *Server) Serve(ctx context.Context) error {
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{s.listener.Addr().String()},
		WebConfigFile:      &s.webConfig,
	}
	done := make(chan error, 1)
	go func() { done <- web.Serve(s.listener, s.http, flags, s.logger) }()
	select {
	case err := <-done:
		s.listener.Close()
		return fmt.Errorf("serving metrics on %s: %w", s.listener.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		s.http.Close()
		return fmt.Errorf("stopping the metrics server: %w", err)
	}
	return nil
}

// Serve listens on listen and serves /metrics from reg and /healthz from
// healthy until ctx ends (see Listen and Server.Serve). An address in use or
// a bad web-config file is returned at once.
func Serve(ctx context.Context, listen, webConfigFile string, reg prometheus.Gatherer, healthy func() error, logger *slog.Logger) error {
	s, err := Listen(listen, webConfigFile, reg, healthy, logger)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// oneLine joins the lines of a health reason.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
