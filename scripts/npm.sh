# npm packages the tests run, each from a checked-in lockfile: `npm ci` into
# $TOOLS/NAME-<the lockfile's sha256>, once per lockfile. Exported under
# names that do not start with MARQUEE_ (that prefix is the services'
# settings, which refuse unknown keys).
# Sourced by scripts/test after scripts/broker.sh (TOOLS, say, die).
# shellcheck shell=bash

# install_npm_lockfile NAME PACKAGE_DIR WHAT: sets NPM_DIR to the installed
# folder; WHAT names the package for the messages.
install_npm_lockfile() {
  local name=$1 package=$2 what=$3 sha
  sha=$(sha256sum "$package/package-lock.json" | cut -d' ' -f1)
  NPM_DIR="$TOOLS/$name-$sha"
  if [ ! -d "$NPM_DIR/node_modules" ]; then
    command -v npm >/dev/null || die "npm is needed to install $what"
    say "Installing $what from npm into $NPM_DIR (first run only)"
    rm -rf "$NPM_DIR.partial" && mkdir -p "$NPM_DIR.partial"
    cp "$package/package.json" "$package/package-lock.json" "$NPM_DIR.partial/"
    (cd "$NPM_DIR.partial" && npm ci --no-audit --no-fund --loglevel=error) \
      || die "npm ci of $what failed"
    mv "$NPM_DIR.partial" "$NPM_DIR"
  fi
}

# The reference Bluesky PDS (@atproto/pds with a local PLC directory) that
# marquee-social's tests post to (about 95 s the first time).
install_pds() {
  install_npm_lockfile pds services/marquee-social/tests/pds "the Bluesky PDS the social tests post to"
  export BLUESKY_PDS_DIR="$NPM_DIR"
}

# Fedify (@fedify/fedify with @logtape/logtape), the independent ActivityPub
# follower marquee-social's fediverse tests run against (a few seconds).
install_fedify() {
  install_npm_lockfile fedify services/marquee-social/tests/fediverse "Fedify, the fediverse follower the social tests run against"
  export FEDIFY_DIR="$NPM_DIR"
}

# axe-core, the accessibility engine the reader pages' browser tests inject
# into each page (services/marquee/tests/reader_pages.rs); AXE_CORE_DIR holds
# node_modules/axe-core/axe.min.js.
install_axe() {
  install_npm_lockfile axe-core services/marquee/tests/axe "axe-core, which the reader pages' browser tests run"
  export AXE_CORE_DIR="$NPM_DIR"
}

# doiuse-email, the mail-client support checker (Can I email's data) that
# marquee-digest's clients test runs over the digest's HTML
# (services/marquee-digest/tests/api/clients.rs); DOIUSE_EMAIL_DIR holds
# node_modules/doiuse-email.
install_doiuse_email() {
  install_npm_lockfile doiuse-email services/marquee-digest/tests/email-check "doiuse-email, which the digest's mail-client check runs"
  export DOIUSE_EMAIL_DIR="$NPM_DIR"
}
