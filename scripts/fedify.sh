# Fedify (@fedify/fedify with @logtape/logtape), the independent ActivityPub
# follower that marquee-social's fediverse tests run against: `npm ci` of the
# checked-in lockfile into $TOOLS/fedify-<its sha256>, once per lockfile,
# exported as FEDIFY_DIR (not MARQUEE_…: that prefix is the services'
# settings, which refuse unknown keys).
# Sourced by scripts/test after scripts/broker.sh (TOOLS, say, die).
# shellcheck shell=bash

FEDIFY_PACKAGE=services/marquee-social/tests/fediverse

install_fedify() {
  local sha dir
  sha=$(sha256sum "$FEDIFY_PACKAGE/package-lock.json" | cut -d' ' -f1)
  dir="$TOOLS/fedify-$sha"
  if [ ! -d "$dir/node_modules" ]; then
    command -v npm >/dev/null || die "npm is needed to install Fedify, the fediverse follower the social tests run against"
    say "Installing Fedify from npm into $dir (first run only: a few seconds)"
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    cp "$FEDIFY_PACKAGE/package.json" "$FEDIFY_PACKAGE/package-lock.json" "$dir.partial/"
    (cd "$dir.partial" && npm ci --no-audit --no-fund --loglevel=error) \
      || die "npm ci of Fedify failed"
    mv "$dir.partial" "$dir"
  fi
  export FEDIFY_DIR="$dir"
}
