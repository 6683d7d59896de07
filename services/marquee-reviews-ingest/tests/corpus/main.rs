//! The differential test against feedparser's own test corpus (issue 14):
//! every RSS and Atom case in the feedparser sdist's `tests/wellformed`,
//! `tests/illformed`, `tests/encoding` and `tests/entities` is read by
//! Marquee's feed reader, and each case's `Expect:` line (a Python
//! expression over feedparser's result) is evaluated by `evaluate.py`
//! against Marquee's reading, for the fields Marquee reads. A disagreement
//! fails the test unless `tests/feedparser-differences.toml` lists it with
//! its reason; a listed one that no longer occurs fails it too.
//!
//! `scripts/test` fetches the pinned sdist (`scripts/corpora.sh`) and sets
//! `FEEDPARSER_CORPUS`; run that script and export the variable to run
//! this test alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use url::Url;

/// The folders of the corpus this test reads, and whether they nest.
const FOLDERS: [(&str, bool); 4] = [
    ("wellformed", true),
    ("illformed", false),
    ("encoding", false),
    ("entities", false),
];

#[test]
fn marquee_agrees_with_feedparser_on_its_own_corpus() {
    let corpus = std::env::var_os("FEEDPARSER_CORPUS")
        .map(PathBuf::from)
        .expect(
            "FEEDPARSER_CORPUS is not set: run ./scripts/test, or \
         `source scripts/corpora.sh && fetch_corpora` and run this test in that shell",
        );
    assert!(
        corpus.join("wellformed").is_dir(),
        "FEEDPARSER_CORPUS={} holds no wellformed/ folder",
        corpus.display()
    );
    let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
    let mut cases = Vec::new();
    for (folder, nested) in FOLDERS {
        for path in xml_files(&corpus.join(folder), nested) {
            let name = path
                .strip_prefix(&corpus)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path).unwrap();
            cases.push(read_case(&name, &bytes, now));
        }
    }
    let panics: Vec<_> = cases
        .iter()
        .filter(|c| c["outcome"] == "panic")
        .map(|c| c["case"].as_str().unwrap().to_owned())
        .collect();
    let readings = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(readings.path(), serde_json::to_vec(&cases).unwrap()).unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let output = Command::new("python3")
        .arg(here.join("corpus/evaluate.py"))
        .arg(&corpus)
        .arg(readings.path())
        .arg(here.join("feedparser-differences.toml"))
        .output()
        .expect("python3 runs the corpus evaluator");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(panics.is_empty(), "the reader panicked on {panics:?}");
    assert!(
        output.status.success(),
        "Marquee and feedparser disagree beyond the listed differences:\n{report}"
    );
}

/// The `.xml` files under `dir` (and its folders, when `nested`), sorted.
fn xml_files(dir: &Path, nested: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && nested {
            files.extend(xml_files(&path, false));
        } else if path.extension().is_some_and(|e| e == "xml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Marquee's reading of one case, or why there is none: `skipped` for a
/// document that is not RSS or Atom, `undecodable` for bytes the fetcher
/// would refuse, `panic` for a reader panic.
fn read_case(name: &str, bytes: &[u8], now: DateTime<Utc>) -> serde_json::Value {
    use serde_json::json;
    // feedparser's test server serves every case from here; a
    // Content-Location header is not a base Marquee uses.
    let url = Url::parse(&format!("http://127.0.0.1:8097/tests/{name}")).unwrap();
    let text = match marquee_fetch::decode(bytes, content_type(bytes).as_deref()) {
        Ok(text) => text,
        Err(_) => return json!({ "case": name, "outcome": "undecodable" }),
    };
    let root = marquee_reviews_ingest::root_element(&text);
    if !matches!(root, Some("rss" | "feed" | "RDF")) {
        return json!({ "case": name, "outcome": "skipped", "root": root });
    }
    match std::panic::catch_unwind(|| marquee_reviews_ingest::feedparser_view(&text, &url, now)) {
        Ok(view) => json!({ "case": name, "outcome": "read", "view": view }),
        Err(_) => json!({ "case": name, "outcome": "panic" }),
    }
}

/// The case's `Header: Content-Type:` line, as feedparser's test server
/// sends it.
fn content_type(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    head.lines().find_map(|line| {
        let value = line.trim().strip_prefix("Header:")?.trim();
        let (name, value) = value.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_owned())
    })
}
