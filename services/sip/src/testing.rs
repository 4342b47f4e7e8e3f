//! What tests of `vox sip` share (feature `test-util`): SIPp as the caller.

use std::path::PathBuf;

/// Runs SIPp against a gateway at `sip_addr`: `scenario` is `uac` (built in, a 1 s call) or a file
/// in this crate's `tests/sipp/`.
/// Whether every call of the run succeeded, and SIPp's output when not.
pub async fn sipp(
    sip_addr: std::net::SocketAddr,
    scenario: &str,
    service: &str,
) -> Result<(), String> {
    sipp_with(sip_addr, scenario, service, &[]).await
}

/// `sipp` with more of SIPp's options after vox's (a later one wins): `-t t1` for TCP, `-d 5000`
/// for a longer `uac` call.
pub async fn sipp_with(
    sip_addr: std::net::SocketAddr,
    scenario: &str,
    service: &str,
    options: &[&str],
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new("sipp");
    if scenario == "uac" {
        command.args(["-sn", "uac", "-d", "1000"]);
    } else {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(format!("{scenario}.xml"));
        command.arg("-sf").arg(file);
    }
    let output = command
        .arg(sip_addr.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-m",
            "1",
            "-l",
            "1",
            "-s",
            service,
        ])
        .args([
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .args(options)
        .current_dir(dir.path())
        .output()
        .await
        .map_err(|e| format!("SIPp could not run (apt-get install sip-tester): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut errors = String::new();
    for entry in std::fs::read_dir(dir.path()).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        errors += &std::fs::read_to_string(&path).unwrap_or_default();
    }
    Err(format!(
        "SIPp exited {:?}\n{}\n{errors}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    ))
}
