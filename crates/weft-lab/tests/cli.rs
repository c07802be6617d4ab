//! Runs the `weft-lab` binary as a user would, with tiny samples so it stays fast.

use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft-lab"))
        .args(args)
        .output()
        .expect("weft-lab runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

/// Options that keep a run to a few milliseconds per sample.
const TINY: &[&str] = &["--quick", "--duration-ms", "2", "--rounds", "2"];

#[test]
fn run_false_sharing_prints_the_claim_the_table_and_a_verdict() {
    let output = lab(&[&["run", "false-sharing"], TINY].concat());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("== false-sharing =="));
    assert!(text.contains("claim (Multitasking, 3.3"), "{text}");
    assert!(text.contains("False sharing causes the MESI coherence protocol"));
    // The table: its header, a rule, and one row per (increment, layout).
    assert!(text.contains("increments/s (median)"));
    assert!(text.lines().any(|l| l.starts_with("----------")));
    assert_eq!(text.matches("packed (8 per 64-byte line)").count(), 2);
    assert_eq!(text.matches("padded (CachePadded)").count(), 2);
    let verdict = text
        .lines()
        .find_map(|l| l.strip_prefix("verdict: "))
        .expect("a verdict line");
    assert!(
        ["reproduced", "partly", "not reproduced", "inconclusive"].contains(&verdict),
        "{verdict}"
    );
    assert!(text.contains("fetch_add: ") && text.contains("load+store: "));
}

#[test]
fn list_names_every_experiment() {
    let output = lab(&["list"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("false-sharing"));
    assert!(text.contains("lock-contention"));
}

#[test]
fn tour_runs_everything_and_writes_every_sample_as_json() {
    let json = std::env::temp_dir().join(format!("weft-lab-tour-{}.json", std::process::id()));
    let json_arg = json.to_str().unwrap();
    let output = lab(&[&["tour", "--threads", "2", "--json", json_arg], TINY].concat());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("== false-sharing =="));
    assert!(text.contains("== lock-contention =="));
    assert!(text.contains("== summary =="));

    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    std::fs::remove_file(&json).unwrap();
    let experiments = run["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 2);
    for experiment in experiments {
        assert!(experiment["verdict"]["outcome"].is_string());
        for comparison in experiment["comparisons"].as_array().unwrap() {
            for contender in comparison["contenders"].as_array().unwrap() {
                // --rounds 2: two raw samples per contender.
                assert_eq!(contender["samples"].as_array().unwrap().len(), 2);
            }
        }
    }
}

#[test]
fn an_unknown_experiment_fails_with_the_known_names() {
    let output = lab(&["run", "no-such-thing"]);
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(error.contains("false-sharing"), "{error}");
}

#[test]
fn bad_usage_exits_with_code_2() {
    assert_eq!(lab(&["run"]).status.code(), Some(2));
    assert_eq!(lab(&["list", "--threads", "0"]).status.code(), Some(2));
}
