#!/usr/bin/env bash
# Runs a command as root (directly, or through sudo): installing Debian packages the
# tests need on a fresh machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# No questions from debconf: nobody is there to answer in CI.
export DEBIAN_FRONTEND=noninteractive
if ! as_root env DEBIAN_FRONTEND=noninteractive "$@"; then
  # A fresh machine may not have read the package lists yet.
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive "$@"
fi
