//! The Backend API behind TLS (deploy/nginx/render-api.sh) tested for real.
//!
//! Debian's nginx with a certificate a test CA (openssl) made for 127.0.0.1, in front of a real `vox bridge`
//! on loopback: the API answers over HTTPS with the certificate checked, a sign-in works through
//! it, and nothing is served in clear on the TLS port.

use super::nginx::start_nginx;
use crate::support::platform::*;
use serde_json::{Value, json};
use std::process::Command;

/// A test CA and a server certificate it signed for 127.0.0.1; returns the paths of the CA's
/// certificate, the server's certificate and the server's key.
fn certificates(platform: &Platform) -> (String, String, String) {
    let path = |name: &str| platform.path(name).display().to_string();
    let (ca, ca_key, cert, key, request, extensions) = (
        path("ca.pem"),
        path("ca.key"),
        path("api.pem"),
        path("api.key"),
        path("api.csr"),
        path("api.ext"),
    );
    std::fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [Vec<&str>; 3] = [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=vox test CA",
        ]
        .into_iter()
        .chain(["-keyout", &ca_key, "-out", &ca])
        .collect(),
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ]
        .into_iter()
        .chain(["-keyout", &key, "-out", &request])
        .collect(),
        vec![
            "x509", "-req", "-days", "1", "-in", &request, "-CA", &ca, "-CAkey", &ca_key,
        ]
        .into_iter()
        .chain(["-CAcreateserial", "-extfile", &extensions, "-out", &cert])
        .collect(),
    ];
    for args in steps {
        let made = Command::new("openssl").args(&args).output().unwrap();
        assert!(
            made.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    (ca, cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_served_over_tls_and_never_in_clear_on_its_port() {
    let mut platform = Platform::start();
    let (ca, cert, key) = certificates(&platform);
    let port = free_port();
    // A console build: nginx's workers read it as they would a release's.
    let console = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            console.path().join("index.html"),
            "<title>vox console</title>",
        )
        .unwrap();
        std::fs::create_dir(console.path().join("assets")).unwrap();
        std::fs::write(console.path().join("assets/app-1a2b.js"), "console.log(1)").unwrap();
        for dir in [console.path(), &console.path().join("assets")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let rendered = Command::new(repo_root().join("deploy/nginx/render-api.sh"))
        .env("CERTIFICATE", &cert)
        .env("CERTIFICATE_KEY", &key)
        .env("CONSOLE_DIR", console.path())
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "UPSTREAM",
            platform.bridge_url().trim_start_matches("http://"),
        )
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    start_nginx(&mut platform, &rendered.stdout, port);

    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("strict-transport-security"));
    let signed_in: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(signed_in["access_token"].is_string(), "{signed_in}");

    // The console from the same origin: its pages (a route of the app too) and its assets.
    for page in ["/", "/campaigns/5"] {
        let got = client.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(got.status(), 200, "{page}");
        assert!(got.text().await.unwrap().contains("vox console"), "{page}");
    }
    let asset = client
        .get(format!("{base}/assets/app-1a2b.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let api = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    assert!(api.text().await.unwrap().contains("openapi"));

    // Plain HTTP on the TLS port gets nginx's refusal, never the API.
    let clear = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(clear.status(), 400);
    assert!(!clear.text().await.unwrap().contains("openapi"));
}

#[test]
fn render_api_refuses_a_relative_certificate_path_naming_it() {
    let rendered = Command::new(repo_root().join("deploy/nginx/render-api.sh"))
        .env("CERTIFICATE", "vox.pem")
        .env("CERTIFICATE_KEY", "/etc/ssl/vox.key")
        .output()
        .unwrap();
    assert_eq!(rendered.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&rendered.stderr).contains("CERTIFICATE"));
}
