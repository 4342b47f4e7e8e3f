//! docs/configuration.md against the code and the deployment.
//!
//! Every variable `vox` reads is documented (and nothing else), and each
//! `deploy/systemd/*.env.example` lists exactly its service's variables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Read by the deployment, not by `vox` itself.
const DEPLOY_ONLY: &[&str] = &["FLEET_PUBLIC_URL"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The variable names in `text` quoted as `"NAME"` after `marker`.
fn quoted_after(text: &str, marker: &str) -> BTreeSet<String> {
    text.split(marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

/// What the code reads: `text("…")` in config.rs and sip_gateway.rs, the sidecars' `env = "…"`,
/// the provider keys (providers.rs), the config file and the log filter.
fn read_by_code() -> BTreeSet<String> {
    let config = read("crates/vox/src/config.rs");
    let mut names = quoted_after(&config, "text(\"");
    names.extend(quoted_after(
        &read("crates/vox/src/sip_gateway.rs"),
        "text(\"",
    ));
    // The sidecars' settings (clap's `env = "…"`).
    for sidecar in ["services/whisper/src/main.rs", "services/llm/src/main.rs"] {
        names.extend(quoted_after(&read(sidecar), "env = \""));
    }
    let keys = read("crates/vox/src/providers.rs");
    let keys = keys
        .split("PROVIDER_KEYS: &[(&str, &str)] = &[")
        .nth(1)
        .unwrap();
    let keys = keys.split("];").next().unwrap();
    names.extend(quoted_after(keys, ", \""));
    assert!(config.contains("\"VOX_CONFIG\""));
    names.insert("VOX_CONFIG".to_owned());
    assert!(read("crates/vox/src/telemetry.rs").contains("RUST_LOG"));
    names.insert("RUST_LOG".to_owned());
    names
}

/// The documented variables and the services that use each.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    read("docs/configuration.md")
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let name = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let used = cells
                .get(2)?
                .split(", ")
                .map(|s| s.trim().to_owned())
                .collect();
            Some((name.to_owned(), used))
        })
        .collect()
}

#[test]
fn every_variable_the_code_reads_is_documented_and_nothing_else_is() {
    let code = read_by_code();
    let docs = documented();
    let documented: BTreeSet<String> = docs.keys().cloned().collect();
    let missing: Vec<&String> = code.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "read by the code but not in docs/configuration.md: {missing:?}"
    );
    let extra: Vec<&String> = documented
        .difference(&code)
        .filter(|name| !DEPLOY_ONLY.contains(&name.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "documented but read by nothing: {extra:?}"
    );
}

#[test]
fn each_env_example_lists_exactly_its_services_variables() {
    let docs = documented();
    for (file, service) in [
        ("voxbridge", "bridge"),
        ("voxcore", "core"),
        ("voxdialler", "dialler"),
        ("voxsip", "sip"),
        ("voxcheck", "check"),
    ] {
        let text = read(&format!("deploy/systemd/{file}.env.example"));
        let listed: BTreeSet<String> = text
            .lines()
            .map(|line| line.trim_start_matches("# "))
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            })
            .map(str::to_owned)
            .collect();
        let expected: BTreeSet<String> = docs
            .iter()
            .filter(|(_, used)| used.contains(service))
            .map(|(name, _)| name.clone())
            .collect();
        assert_eq!(listed, expected, "{file}.env.example");
    }
}

#[test]
fn every_env_file_a_unit_names_has_an_example() {
    let dir = root().join("deploy/systemd");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(file) = line.strip_prefix("EnvironmentFile=/etc/vox/") {
                assert!(
                    dir.join(format!("{file}.example")).is_file(),
                    "{} names /etc/vox/{file}, which has no example",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    // The units name their service's link (/opt/vox/<service>/current/bin/vox); verify them
    // against this build's binary instead.
    let dir = tempfile::tempdir().unwrap();
    let vox = test_support::paths::binary("vox");
    let vox = vox.to_str().expect("a UTF-8 path");
    let mut units = Vec::new();
    for entry in std::fs::read_dir(root().join("deploy/systemd")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".service") || name.ends_with(".timer")) {
            continue;
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        for service in ["voxbridge", "voxcore", "voxdialler", "voxsip"] {
            text = text.replace(&format!("/opt/vox/{service}/current/bin/vox"), vox);
        }
        let text = text
            .replace("User=vox", "User=root")
            .replace("Group=www-data", "Group=root");
        // A template is verified as one of its instances.
        let name = name.replace("@.service", "@1.service");
        std::fs::write(dir.path().join(&name), text).unwrap();
        units.push(dir.path().join(name));
    }
    assert!(units.len() >= 7, "{units:?}");
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .expect("systemd-analyze (Debian's systemd package) runs");
    let said = String::from_utf8_lossy(&output.stderr);
    // Only complaints about our units count (the host's own units may have their own).
    let here = dir.path().to_string_lossy().into_owned();
    let ours: Vec<&str> = said
        .lines()
        .filter(|line| line.starts_with("vox") || line.contains(&here))
        .collect();
    assert!(output.status.success() && ours.is_empty(), "{said}");
}

/// M13: a worker's socket in `/tmp` could be taken first by any local user, who would then get
/// `/attach` (with the fleet secret) from nginx.
#[test]
fn worker_sockets_live_in_a_folder_only_vox_and_nginx_reach() {
    let unit = read("deploy/systemd/voxcore@.service");
    let value = |key: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("voxcore@.service sets no {key}"))
            .to_owned()
    };
    assert_eq!(value("RuntimeDirectory"), "vox");
    assert_eq!(value("RuntimeDirectoryMode"), "0750");
    // Every instance shares the folder: stopping one must not remove the others' sockets.
    assert_eq!(value("RuntimeDirectoryPreserve"), "yes");
    assert_eq!(value("Group"), "www-data");
    assert_eq!(
        value("Environment"),
        "VOXCORE_SOCKET=/run/vox/voxcore_%i.sock"
    );
    // nginx's rendered upstreams point at the same folder by default.
    let rendered = std::process::Command::new(root().join("deploy/nginx/render.sh"))
        .env("WORKERS", "2")
        .output()
        .unwrap();
    assert!(rendered.status.success());
    let config = String::from_utf8(rendered.stdout).unwrap();
    assert!(
        config.contains("server unix:/run/vox/voxcore_2.sock"),
        "{config}"
    );
    assert!(!config.contains("/tmp/"), "{config}");
}
