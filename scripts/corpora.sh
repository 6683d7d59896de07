# Peers' test corpora the differential tests read, fetched once into
# $TOOLS/corpora (pinned versions, checked by sha256) and exported by path.
# Sourced by scripts/test after scripts/broker.sh (TOOLS, say, die).
# shellcheck shell=bash

CORPORA="$TOOLS/corpora"

# fetch_sdist NAME VERSION SHA256 VARIABLE SUBDIR: downloads NAME==VERSION's
# source distribution from PyPI, checks its hash, unpacks it and exports
# VARIABLE as the unpacked SUBDIR.
fetch_sdist() {
  local name=$1 version=$2 sha256=$3 variable=$4 subdir=$5
  local archive="$CORPORA/$name-$version.tar.gz" dir="$CORPORA/$name-$version"
  if [ ! -d "$dir" ]; then
    mkdir -p "$CORPORA"
    if [ ! -f "$archive" ]; then
      say "Downloading the $name $version sdist (its test corpus)"
      python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        "$name==$version" -d "$CORPORA" || die "could not download the $name $version sdist"
    fi
    echo "$sha256  $archive" | sha256sum --check --quiet \
      || { rm -f "$archive"; die "$archive does not have the pinned sha256"; }
    tar -xzf "$archive" -C "$CORPORA" || die "could not unpack $archive"
  fi
  export "$variable=$dir/$subdir"
}

fetch_corpora() {
  # tests/corpus in marquee-reviews-ingest.
  fetch_sdist feedparser 6.0.14 088679b0c4b543ee211a820dd544698c76a402122eae7473c04a43425f283d06 \
    FEEDPARSER_CORPUS tests
  # tests/ics_corpus.rs in marquee-listings-ingest: the calendars of the
  # icalendar package's own tests.
  fetch_sdist icalendar 6.3.2 e0c10ecbfcebe958d33af7d491f6e6b7580d11d475f2eeb29532d0424f9110a1 \
    ICALENDAR_CORPUS src/icalendar/tests
}
