//! `scripts/smtp-sink.py`, a real SMTP server (aiosmtpd) on loopback that
//! keeps every message as a file, and the messages as Python's `email`
//! package reads them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::free_port;

/// `scripts/smtp-sink.py` on a free loopback port, writing to a folder.
pub struct SmtpSink {
    /// The port it listens on.
    pub port: u16,
    /// Where it writes each message, as `NNNNNNNN.eml`.
    pub dir: TempDir,
    child: Child,
}

impl SmtpSink {
    /// Starts the sink; fails the test when aiosmtpd is missing.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        // A free port can be taken by another test before the sink binds it:
        // then another port.
        for _ in 0..5 {
            let port = free_port();
            match Self::spawn(port, dir.path()) {
                Ok(child) => return Self { port, dir, child },
                Err(error) if error.contains("address already in use") => continue,
                Err(error) => Self::failed(&error),
            }
        }
        Self::failed("five free ports in a row were taken before it bound them")
    }

    fn failed(error: &str) -> ! {
        panic!(
            "the SMTP sink did not start (install aiosmtpd with `pip install aiosmtpd`): {error}"
        )
    }

    /// The sink on `port`, or what it printed when it did not start.
    fn spawn(port: u16, dir: &Path) -> Result<Child, String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the SMTP sink");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the sink's first line");
        if line.trim() == "ready" {
            return Ok(child);
        }
        let output = child.wait_with_output().expect("sink exit");
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Takes the server down: connections are refused until [`SmtpSink::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and folder, keeping what it received.
    pub fn restart(&mut self) {
        self.child =
            Self::spawn(self.port, self.dir.path()).unwrap_or_else(|error| Self::failed(&error));
    }

    /// Makes the sink answer 451 until [`SmtpSink::recover`].
    pub fn fail(&self) {
        std::fs::write(self.dir.path().join("fail"), b"").expect("write the fail switch");
    }

    /// Answers again after [`SmtpSink::fail`].
    pub fn recover(&self) {
        std::fs::remove_file(self.dir.path().join("fail")).expect("remove the fail switch");
    }

    /// Makes the sink refuse `address` for good (550 5.1.1 at RCPT), as a
    /// mailbox that does not exist.
    pub fn refuse(&self, address: &str) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("refuse"))
            .expect("open the refuse list");
        writeln!(file, "{address}").expect("write the refuse list");
    }

    /// The received messages' files, in arrival order.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("list the sink folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Waits (polling, with a deadline) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_for_files(n).await;
        self.messages()
    }

    /// [`SmtpSink::wait_for`] without parsing, to react quickly.
    pub async fn wait_for_files(&self, n: usize) {
        crate::wait::until_value(
            &format!("the sink has {n} messages"),
            Duration::from_secs(20),
            || std::future::ready(self.files().len()),
            |count| *count >= n,
        )
        .await;
    }

    /// Every received message, parsed by Python's `email` package.
    pub fn messages(&self) -> Vec<Received> {
        let files = self.files();
        if files.is_empty() {
            return Vec::new();
        }
        crate::python_json(PARSE_EMAIL, &files, "parsing messages failed")
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A message as Python's `email` package reads it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    /// `To`.
    pub to: String,
    /// `From`.
    pub from: String,
    /// `Subject`, decoded.
    pub subject: String,
    /// `Message-ID`.
    pub message_id: String,
    /// `List-Unsubscribe`, if any.
    pub list_unsubscribe: Option<String>,
    /// `List-Unsubscribe-Post`, if any.
    pub list_unsubscribe_post: Option<String>,
    /// The top-level content type.
    pub content_type: String,
    /// What the parser found wrong with it.
    pub defects: Vec<String>,
    /// Its leaf parts.
    pub parts: Vec<Part>,
}

/// One leaf part of a [`Received`] message.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Part {
    /// Its content type.
    pub content_type: String,
    /// Its decoded body.
    pub body: String,
}

impl Received {
    /// The body of the part of `content_type`; panics without one.
    pub fn part(&self, content_type: &str) -> &str {
        &self
            .parts
            .iter()
            .find(|p| p.content_type == content_type)
            .unwrap_or_else(|| panic!("no {content_type} part in {self:?}"))
            .body
    }

    /// The HTTPS link of `List-Unsubscribe`.
    pub fn unsubscribe_url(&self) -> String {
        let header = self.list_unsubscribe.as_deref().expect("List-Unsubscribe");
        header
            .split(',')
            .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'))
            .find(|s| s.starts_with("http"))
            .expect("an http link")
            .to_owned()
    }
}

const PARSE_EMAIL: &str = r#"
import json, sys
from email import policy
from email.parser import BytesParser
out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        m = BytesParser(policy=policy.default).parse(f)
    parts = []
    for part in m.walk():
        if part.is_multipart():
            continue
        parts.append({"content_type": part.get_content_type(), "body": part.get_content()})
    out.append({
        "to": str(m["To"]),
        "from": str(m["From"]),
        "subject": str(m["Subject"]),
        "message_id": str(m["Message-ID"]),
        "list_unsubscribe": str(m["List-Unsubscribe"]) if m["List-Unsubscribe"] else None,
        "list_unsubscribe_post": str(m["List-Unsubscribe-Post"]) if m["List-Unsubscribe-Post"] else None,
        "content_type": m.get_content_type(),
        "defects": [repr(d) for d in m.defects],
        "parts": parts,
    })
print(json.dumps(out))
"#;
