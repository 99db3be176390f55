#!/usr/bin/env bash
# Installs what the benchmark needs beyond test/install.sh (PostgreSQL with
# pgbench and pgcrypto, MinIO, age, zstd): the aws CLI, which uploads the
# hand-made pipeline's output. Safe to run again: it skips what is present.
set -euo pipefail

say() { printf 'bench setup: %s\n' "$*"; }

if command -v aws >/dev/null; then
	say "aws CLI present: $(aws --version 2>&1 | head -n 1)"
	exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "bench setup: not root and no sudo: run as root" >&2; exit 1; }
	SUDO=(sudo)
fi
say "installing awscli"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends awscli
say "aws CLI installed: $(aws --version 2>&1 | head -n 1)"
