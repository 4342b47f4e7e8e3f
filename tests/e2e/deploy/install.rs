//! `deploy/install.sh` and `deploy/rollback.sh` moving a real Backend (`vox bridge` on loopback)
//! between releases, with a restart command in place of systemd (`VOX_DEPLOY_RESTART`): the same
//! steps the units take, on a host where systemd cannot run.
//!
//! A release that cannot serve fails its health check and is rolled back by itself; a rollback by
//! hand swaps back; a rollback with nothing to go back to, and bad input, change nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A layout root with its env files, a restart script and two builds: a good one (this test
/// run's `vox`) and one whose `vox bridge` exits at once.
struct Host {
    dir: tempfile::TempDir,
    port: u16,
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let vox = test_support::paths::binary("vox");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/voxbridge.env"),
            format!(
                "DATABASE_URL=sqlite://{root}/vox.db\nJWT_SECRET=jwt-secret-0123456789\n\
                 VOXCORE_SECRET=fleet-secret-0123456789\nVOXBRIDGE_PORT={port}\n\
                 OBJECT_STORE_URL=file://{root}/recordings\n",
                root = root.display()
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("etc/voxcheck.env"),
            format!("VOXBRIDGE_URL=http://127.0.0.1:{port}\n"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("good")).unwrap();
        std::fs::copy(&vox, root.join("good/vox")).unwrap();
        std::fs::create_dir_all(root.join("broken")).unwrap();
        executable(
            &root.join("broken/vox"),
            &format!(
                "#!/bin/sh\n[ \"$1\" = bridge ] && {{ echo 'this release cannot serve' >&2; exit 1; }}\nexec {} \"$@\"\n",
                vox.display()
            ),
        );
        // What systemd would do for voxbridge.service: stop what runs, start the current link.
        executable(
            &root.join("restart.sh"),
            &format!(
                "#!/bin/sh\nset -e\nroot={root}\npid=\"$root/$1.pid\"\n\
                 if [ -f \"$pid\" ]; then kill \"$(cat \"$pid\")\" 2>/dev/null || true; \
                 while kill -0 \"$(cat \"$pid\")\" 2>/dev/null; do sleep 0.1; done; fi\n\
                 set -a; . \"$root/etc/$1.env\"; set +a\n\
                 \"$root/layout/$1/current/bin/vox\" bridge >>\"$root/$1.log\" 2>&1 &\n\
                 echo $! >\"$pid\"\n",
                root = root.display()
            ),
        );
        Self { dir, port }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, script: &str, build: &str, args: &[&str]) -> Output {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Command::new(repo.join("deploy").join(script))
            .args(args)
            .env("VOX_ROOT", self.root().join("layout"))
            .env("VOX_ETC", self.root().join("etc"))
            .env("VOX_BUILD_DIR", self.root().join(build))
            .env("VOX_DEPLOY_RESTART", self.root().join("restart.sh"))
            .env("VOX_DEPLOY_CHECK_SECONDS", "20")
            .output()
            .unwrap()
    }

    fn link(&self, name: &str) -> Option<String> {
        std::fs::read_link(self.root().join("layout/voxbridge").join(name))
            .ok()
            .map(|target| target.file_name().unwrap().to_string_lossy().into_owned())
    }

    fn healthy(&self) -> bool {
        let mut stream = match std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            Ok(stream) => stream,
            Err(_) => return false,
        };
        use std::io::{Read, Write};
        let _ = stream.write_all(b"GET /health HTTP/1.0\r\nHost: vox\r\n\r\n");
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200")
    }

    /// The binary the running Backend was started from.
    fn running_release(&self) -> PathBuf {
        let pid = std::fs::read_to_string(self.root().join("voxbridge.pid")).unwrap();
        std::fs::read_link(format!("/proc/{}/exe", pid.trim())).unwrap()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.root().join("voxbridge.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_release_that_fails_its_health_check_is_rolled_back_and_a_rollback_by_hand_swaps_back() {
    let host = Host::new();
    let first = host.run("install.sh", "good", &["1.0.0", "voxbridge"]);
    assert!(first.status.success(), "{}", said(&first));
    assert_eq!(host.link("current").as_deref(), Some("1.0.0"));
    assert!(host.healthy());
    assert!(host.root().join("vox.db").is_file(), "migrated");

    // A release whose Backend cannot start: checked, found down, rolled back to 1.0.0.
    let broken = host.run("install.sh", "broken", &["1.1.0", "voxbridge"]);
    assert_eq!(broken.status.code(), Some(1), "{}", said(&broken));
    assert!(
        said(&broken).contains("rolled back to 1.0.0, which passed its health check"),
        "{}",
        said(&broken)
    );
    assert_eq!(host.link("current").as_deref(), Some("1.0.0"));
    assert!(host.healthy());
    assert!(
        host.running_release()
            .to_string_lossy()
            .contains("releases/1.0.0/bin/vox"),
        "{:?}",
        host.running_release()
    );

    // A good release, then back by hand.
    let second = host.run("install.sh", "good", &["1.2.0", "voxbridge"]);
    assert!(second.status.success(), "{}", said(&second));
    assert_eq!(
        (
            host.link("current").as_deref(),
            host.link("previous").as_deref()
        ),
        (Some("1.2.0"), Some("1.0.0"))
    );
    let back = host.run("rollback.sh", "good", &["voxbridge"]);
    assert!(back.status.success(), "{}", said(&back));
    assert_eq!(
        (
            host.link("current").as_deref(),
            host.link("previous").as_deref()
        ),
        (Some("1.0.0"), Some("1.2.0"))
    );
    assert!(host.healthy());
}

#[test]
fn a_rollback_with_no_earlier_version_and_bad_input_change_nothing() {
    let host = Host::new();
    let nothing = host.run("rollback.sh", "good", &["voxbridge"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        said(&nothing).contains("no earlier version"),
        "{}",
        said(&nothing)
    );
    for args in [
        &["../1.0", "voxbridge"][..],
        &["1.0.0", "voxweb"][..],
        &["1.0.0"][..],
    ] {
        let refused = host.run("install.sh", "good", args);
        assert_eq!(
            refused.status.code(),
            Some(64),
            "{args:?}: {}",
            said(&refused)
        );
    }
    let refused = host.run("rollback.sh", "good", &["voxweb"]);
    assert_eq!(refused.status.code(), Some(64));
    assert!(
        !host.root().join("layout").exists(),
        "nothing was installed or linked"
    );
}

/// The Jenkinsfile deploys only from a green main, after every test, and only through install.sh
/// (so a failed health check rolls back and fails the build). No Jenkins runs here: this reads it.
#[test]
fn the_jenkinsfile_deploys_only_a_green_main_through_install_sh() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let jenkinsfile = std::fs::read_to_string(repo.join("Jenkinsfile")).unwrap();
    let test = jenkinsfile.find("stage('Test')").expect("a Test stage");
    let deploy = jenkinsfile.find("stage('Deploy')").expect("a Deploy stage");
    assert!(test < deploy, "the tests run before the deploy");
    assert!(jenkinsfile[test..deploy].contains("sh 'scripts/test'"));
    let deploy = &jenkinsfile[deploy..];
    assert!(deploy.contains("when { branch 'main' }"));
    assert!(deploy.contains("deploy/install.sh ${version} ${services}"));
    assert!(
        !deploy.contains("systemctl"),
        "restarts go through install.sh"
    );
}
