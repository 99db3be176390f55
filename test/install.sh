#!/usr/bin/env bash
# Installs everything pgtier's tests need on Debian (bookworm) with Go present:
# PostgreSQL server and client, age, zstd, promtool, systemd-analyze, MinIO at
# a pinned version and golangci-lint. Safe to run again: it skips what is
# already installed.
set -euo pipefail

MINIO_PKG=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
LINT_PKG=github.com/golangci/golangci-lint/v2/cmd/golangci-lint
LINT_VERSION=v2.15.0

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go not found in PATH; install Go first"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: run as root"
	SUDO=(sudo)
fi

# --- Debian packages ---------------------------------------------------------

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_packages() {
	local want=(age zstd prometheus systemd ca-certificates git make)
	local missing=() p
	# Any packaged PostgreSQL server will do (its client tools come with it);
	# prefer 15 when none is present.
	if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
		want+=(postgresql-15 postgresql-client-15)
	fi
	for p in "${want[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		say "apt: all packages present"
		return
	fi
	command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"

	# Keep package scripts from starting services or making a main cluster:
	# the tests start their own servers on free ports.
	local policy=/usr/sbin/policy-rc.d made_policy=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
		"${SUDO[@]}" chmod 755 "$policy"
		made_policy=1
	fi
	"${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" |
		"${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/pgtier-tests.conf >/dev/null

	say "apt: installing ${missing[*]}"
	local rc=0
	{
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			if ! apt-cache show postgresql-15 >/dev/null 2>&1; then
				# Not bookworm: take the distribution's default server.
				missing=("${missing[@]/postgresql-15/postgresql}")
				missing=("${missing[@]/postgresql-client-15/postgresql-client}")
			fi &&
			"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}"
	} || rc=$?
	[ -n "$made_policy" ] && "${SUDO[@]}" rm -f "$policy"
	[ "$rc" -eq 0 ] || die "apt-get failed (exit $rc)"
}

# --- Go tools ----------------------------------------------------------------

GOBIN_DIR="$(go env GOPATH | cut -d: -f1)/bin"

# version_of prints the main module version a Go binary was built from.
version_of() {
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# go_tool NAME PKG VERSION installs PKG@VERSION into GOBIN_DIR unless NAME is
# already there at VERSION, and records the version in NAME.version.
go_tool() {
	local name=$1 pkg=$2 version=$3
	local bin="$GOBIN_DIR/$name" stamp="$GOBIN_DIR/$name.version" have=""
	if [ -x "$bin" ]; then
		have=$(version_of "$bin")
		[ -n "$have" ] || have=$(cat "$stamp" 2>/dev/null || true)
	fi
	if [ "$have" = "$version" ]; then
		echo "$version" >"$stamp"
		say "$name $version already installed at $bin"
		return
	fi
	say "building $name $version (was: ${have:-none}); this takes a few minutes"
	local start=$SECONDS
	(cd / && GOBIN="$GOBIN_DIR" go install "$pkg@$version") || die "go install $pkg@$version failed"
	echo "$version" >"$stamp"
	say "built $bin in $((SECONDS - start))s"
}

# --- main --------------------------------------------------------------------

start=$SECONDS
apt_packages
mkdir -p "$GOBIN_DIR"
go_tool minio "$MINIO_PKG" "$MINIO_VERSION"
go_tool golangci-lint "$LINT_PKG" "$LINT_VERSION"

# Check that everything the tests call is there.
initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$initdb" ] || initdb=$(command -v initdb || true)
[ -n "$initdb" ] || die "no PostgreSQL server (initdb) after installing"
for tool in psql pg_dump pg_restore age zstd promtool systemd-analyze; do
	command -v "$tool" >/dev/null || die "$tool not found after installing"
done
say "postgres: $("$initdb" --version) ($(dirname "$initdb"))"
say "client:   $(pg_dump --version)"
say "age:      $(age --version)"
say "zstd:     $(zstd --version)"
say "promtool: $(promtool --version 2>&1 | head -n 1)"
say "systemd:  $(systemd-analyze --version | head -n 1)"
say "minio:    $(version_of "$GOBIN_DIR/minio")"
say "lint:     $("$GOBIN_DIR/golangci-lint" version 2>&1 | head -n 1)"
say "done in $((SECONDS - start))s"
