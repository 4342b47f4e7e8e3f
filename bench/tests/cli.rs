//! Every benchmark binary explains itself with `--help` and refuses an unknown option by name.
//!
//! The benchmarks take minutes, so the suite does not run them; it checks that each one is built
//! with the tests (the same features, linted in the same build) and that its command line answers.

use std::process::{Command, Output};

const BENCHMARKS: &[(&str, &str)] = &[
    ("audio_path", env!("CARGO_BIN_EXE_audio_path")),
    ("bridge_load", env!("CARGO_BIN_EXE_bridge_load")),
    ("edge_answer", env!("CARGO_BIN_EXE_edge_answer")),
    ("first_audio", env!("CARGO_BIN_EXE_first_audio")),
    ("fleet_load", env!("CARGO_BIN_EXE_fleet_load")),
    ("knowledge", env!("CARGO_BIN_EXE_knowledge")),
    ("knowledge_recall", env!("CARGO_BIN_EXE_knowledge_recall")),
    ("lease", env!("CARGO_BIN_EXE_lease")),
    ("pacing", env!("CARGO_BIN_EXE_pacing")),
    ("pipeline_turn", env!("CARGO_BIN_EXE_pipeline_turn")),
    ("registry", env!("CARGO_BIN_EXE_registry")),
    ("sip_load", env!("CARGO_BIN_EXE_sip_load")),
    ("turn_model", env!("CARGO_BIN_EXE_turn_model")),
    ("whole_turn", env!("CARGO_BIN_EXE_whole_turn")),
];

fn run(binary: &str, arg: &str) -> Output {
    Command::new(binary)
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("run {binary}: {e}"))
}

#[test]
fn every_benchmark_prints_its_usage_with_help_and_exits_zero() {
    for (name, binary) in BENCHMARKS {
        let out = run(binary, "--help");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help: {:?}", out.status);
        assert!(
            stdout.contains(&format!("Usage: {name}")),
            "{name} --help printed: {stdout}"
        );
        let about = stdout.lines().next().unwrap_or_default();
        assert!(
            !about.is_empty() && !about.starts_with("Usage"),
            "{name} --help has no one-line description: {stdout}"
        );
    }
}

#[test]
fn every_benchmark_refuses_an_unknown_option_with_exit_two_naming_it() {
    for (name, binary) in BENCHMARKS {
        let out = run(binary, "--no-such-option");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("--no-such-option"),
            "{name} did not name the option: {stderr}"
        );
    }
}

/// A workload directory holding one file, `name`, with `text`.
fn workloads(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join(name), text).expect("write the workload");
    dir
}

const TINY: &str = r#"
name = "tiny"
pools = [5]
hours = 0.5
[[campaign]]
human = 0.25
machine = 0.25
no_answer = 0.30
busy = 0.08
handle_mean = 60
handle_cv = 0.8
"#;

#[test]
fn the_pacing_benchmark_refuses_a_broken_workload_file_naming_the_file_and_the_fault() {
    let dir = workloads("broken.toml", &TINY.replace("busy = 0.08", "busy = 0.5"));
    let out = Command::new(env!("CARGO_BIN_EXE_pacing"))
        .args(["--sweep", "0", "--workloads"])
        .arg(dir.path())
        .output()
        .expect("run pacing");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("broken.toml") && stderr.contains("the shares add up to 1.300"),
        "{stderr}"
    );
}

#[test]
fn the_pacing_benchmark_judges_each_workload_and_counts_the_cells_it_ran() {
    let dir = workloads("tiny.toml", TINY);
    let out = Command::new(env!("CARGO_BIN_EXE_pacing"))
        .args(["--sweep", "0", "--small-seeds", "1", "--workloads"])
        .arg(dir.path())
        .output()
        .expect("run pacing");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("| tiny | 5 | "), "{stdout}");
    assert!(
        stdout.contains("Summary: 1 workload × pool cells"),
        "{stdout}"
    );
    let unknown = Command::new(env!("CARGO_BIN_EXE_pacing"))
        .args(["--only", "nosuch", "--workloads"])
        .arg(dir.path())
        .output()
        .expect("run pacing");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no workload is named \"nosuch\""));
}
