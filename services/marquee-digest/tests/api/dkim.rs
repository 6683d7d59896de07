//! DKIM: a digest signed with a key from a secret file is verified by
//! dkimpy against that key's public half, the RFC 8058 headers covered,
//! and a message changed after signing fails.

use std::process::Command;

use marquee_digest::DkimSettings;
use marquee_test_support::python_json;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(a_signed_digest_verifies_with_dkimpy_against_the_configured_key,);

/// dkimpy's verdict on each file, with the `h=` tag, the key served as the
/// TXT record of `marquee._domainkey.films.example`.
const VERIFY: &str = r#"
import json, sys, dkim
public_key = sys.argv[1].encode()
def dns(name, timeout=5):
    if name != b"marquee._domainkey.films.example.":
        return None
    return b"v=DKIM1; k=rsa; p=" + public_key
out = []
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    signature = dkim.DKIM(data).verify(dnsfunc=dns)
    header = [l for l in data.split(b"\r\n\r\n")[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ").split(b"\r\n") if l.lower().startswith(b"dkim-signature:")]
    tags = dict(t.strip().split("=", 1) for t in header[0].decode().split(":", 1)[1].split(";") if "=" in t)
    out.append({"verified": bool(signature), "h": tags["h"].replace(" ", ""), "d": tags["d"], "s": tags["s"]})
print(json.dumps(out))
"#;

#[derive(serde::Deserialize)]
struct Verdict {
    verified: bool,
    h: String,
    d: String,
    s: String,
}

async fn a_signed_digest_verifies_with_dkimpy_against_the_configured_key(engine: Engine) {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("dkim.pem");
    // OpenSSL 3 writes PKCS#8, which the mailer converts for lettre.
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .status()
        .expect("openssl must be installed");
    assert!(made.success());
    let public = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl pkey -in {} -pubout -outform DER | base64 -w0",
            key.display()
        ))
        .output()
        .unwrap();
    assert!(public.status.success());
    let public = String::from_utf8(public.stdout).unwrap();

    let app = TestApp::seeded_with(
        engine,
        |s| {
            s.dkim = Some(DkimSettings {
                selector: "marquee".to_owned(),
                domain: "films.example".to_owned(),
                private_key: None,
                private_key_file: Some(key.clone()),
            });
        },
        ["reader@films.example"],
    )
    .await;
    app.only_run_at(thursday()).await;
    app.sink.wait_for_files(1).await;
    let mail = app.sink.files().remove(0);
    let tampered = keys.path().join("tampered.eml");
    let raw = std::fs::read_to_string(&mail).unwrap();
    std::fs::write(
        &tampered,
        raw.replacen("Subject: What to watch", "Subject: What to buy", 1),
    )
    .unwrap();

    let verdicts: Vec<Verdict> = python_json(
        VERIFY,
        [
            public.as_str(),
            mail.to_str().unwrap(),
            tampered.to_str().unwrap(),
        ],
        "dkimpy could not read the message",
    );
    let signed = &verdicts[0];
    assert!(signed.verified, "dkimpy did not verify the digest");
    assert_eq!(
        (signed.d.as_str(), signed.s.as_str()),
        ("films.example", "marquee")
    );
    for header in [
        "from",
        "subject",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(
            signed.h.split(':').any(|h| h == header),
            "{header} unsigned: {}",
            signed.h
        );
    }
    assert!(!verdicts[1].verified, "a changed subject still verified");
    app.close().await;
}
