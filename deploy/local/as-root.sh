#!/usr/bin/env bash
# Runs a command as root (directly, or through sudo): installing Debian packages the
# tests need on a fresh machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! as_root "$@"; then
  # A fresh machine may not have read the package lists yet.
  as_root apt-get update -qq && as_root "$@"
fi
