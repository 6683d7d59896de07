# The reference Bluesky PDS (@atproto/pds with a local PLC directory) that
# marquee-social's tests post to: `npm ci` of the checked-in lockfile into
# $TOOLS/pds-<its sha256>, once per lockfile, exported as BLUESKY_PDS_DIR
# (not MARQUEE_…: that prefix is the services' settings, which refuse
# unknown keys).
# Sourced by scripts/test after scripts/broker.sh (TOOLS, say, die).
# shellcheck shell=bash

PDS_PACKAGE=services/marquee-social/tests/pds

install_pds() {
  local sha dir
  sha=$(sha256sum "$PDS_PACKAGE/package-lock.json" | cut -d' ' -f1)
  dir="$TOOLS/pds-$sha"
  if [ ! -d "$dir/node_modules" ]; then
    command -v npm >/dev/null || die "npm is needed to install the Bluesky PDS the social tests post to"
    say "Installing the Bluesky PDS from npm into $dir (first run only: about 95 s)"
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    cp "$PDS_PACKAGE/package.json" "$PDS_PACKAGE/package-lock.json" "$dir.partial/"
    (cd "$dir.partial" && npm ci --no-audit --no-fund --loglevel=error) \
      || die "npm ci of the Bluesky PDS failed"
    mv "$dir.partial" "$dir"
  fi
  export BLUESKY_PDS_DIR="$dir"
}
