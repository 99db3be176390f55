# pgtier: backupd and backupctl with the PostgreSQL client tools.
#
#   docker build -t pgtier .
#   docker build --build-arg PG_MAJOR=17 --build-arg VERSION=v1.2.3 -t pgtier:v1.2.3-pg17 .
#
# pg_dump must be of the server's major version or newer; backupd refuses an
# older one. PG_MAJOR=15 is Debian bookworm's own client. For any other major,
# build with --build-arg PG_MAJOR=N: the client then comes from the PostgreSQL
# project's apt repository (apt.postgresql.org), added with the script that
# Debian's postgresql-common package ships for that purpose.
#
# Configuration and keys are mounted read-only at /etc/pgtier; see the README
# ("Running in Docker").

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Empty: the version recorded by the Go toolchain.
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
	-o /out/ ./cmd/backupd ./cmd/backupctl

FROM debian:bookworm-slim
# PostgreSQL client major version: pg_dump, pg_dumpall, pg_restore.
ARG PG_MAJOR=15
RUN set -eux; \
	apt-get update; \
	apt-get install -y --no-install-recommends ca-certificates tzdata; \
	if [ "$PG_MAJOR" != 15 ]; then \
		apt-get install -y --no-install-recommends postgresql-common; \
		/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
	fi; \
	apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
	rm -rf /var/lib/apt/lists/*; \
	"/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version
RUN groupadd --system --gid 10001 backupd; \
	useradd --system --uid 10001 --gid backupd --home-dir /nonexistent \
		--no-create-home --shell /usr/sbin/nologin backupd
COPY --from=build /out/backupd /out/backupctl /usr/local/bin/

LABEL org.opencontainers.image.title="pgtier" \
	org.opencontainers.image.description="Tiered, encrypted, immutable PostgreSQL backups in S3" \
	org.opencontainers.image.source="https://github.com/pgtier/pgtier"

USER 10001:10001
# /metrics and /healthz. backupd listens on 127.0.0.1:9861 by default, which
# is unreachable from outside the container: to scrape it, set metrics.listen
# (or PGTIER_METRICS_LISTEN) to 0.0.0.0:9861 on purpose and publish the port
# only where Prometheus can reach it.
EXPOSE 9861
# No HEALTHCHECK: the image has no HTTP client. Probe /healthz from the
# orchestrator (for example a Kubernetes httpGet probe) instead.
ENTRYPOINT ["backupd"]
CMD ["--config", "/etc/pgtier/pgtier.yaml"]
