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
    for name in ["false-sharing", "lock-contention", "lock-free", "aba"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn run_lock_free_prints_a_row_per_queue_and_a_column_per_thread_count() {
    let output = lab(&[&["run", "lock-free", "--threads", "4"], TINY].concat());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("== lock-free =="));
    assert!(text.contains("Lock-free data structures use atomic compare-and-swap"));
    let header = text
        .lines()
        .find(|l| l.starts_with("queue "))
        .expect("a table header");
    for column in [
        "1 thr ops/s",
        "2 thr ops/s",
        "4 thr ops/s",
        "vs Mutex<VecDeque> @4",
    ] {
        assert!(header.contains(column), "{header}");
    }
    for queue in ["Mutex<VecDeque>", "two-lock queue", "MsQueue", "ArrayQueue"] {
        assert!(
            text.lines().any(|l| l.starts_with(queue)),
            "no row for {queue}:\n{text}"
        );
    }
    assert!(text.contains("verdict: "));
    assert!(text.contains("fastest at 4 threads: "));
}

#[test]
fn run_aba_reproduces_the_corruption_step_by_step() {
    let output = lab(&[&["run", "aba"], TINY].concat());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("== aba =="));
    assert!(text.contains("The ABA problem, where a value changes from A to B"));
    assert!(text.contains("thread 1: resumes, CAS head A → B"));
    assert!(text.contains("CAS succeeds, pops A: B → C → D"));
    assert!(text.contains("B → B → …"));
    // The interleaving is forced, so the verdict is the same on every machine.
    assert!(text.contains("verdict: reproduced\n"), "{text}");
    assert!(text.contains("ABA reproduced: naive stack lost 2 nodes (C, D)"));
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
    assert!(text.contains("== lock-free =="));
    assert!(text.contains("== aba =="));
    assert!(text.contains("== backpressure =="));
    assert!(text.contains("== csp-select =="));
    for name in [
        "memory-ordering",
        "context-switches",
        "deadlock",
        "amdahl",
        "work-stealing",
        "fork-join-overhead",
    ] {
        assert!(text.contains(&format!("== {name} ==")), "{name}");
    }
    assert!(text.contains("== summary =="));

    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    std::fs::remove_file(&json).unwrap();
    let experiments = run["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), weft_lab::experiments::all().len());
    // Experiments without comparisons carry their raw figures instead.
    let raw = |name: &str| {
        experiments
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["raw"].clone())
            .unwrap()
    };
    assert!(raw("memory-ordering")[0]["r1=0 r2=0"].is_u64());
    assert!(raw("amdahl")["fractions"][0]["seconds"].is_array());
    assert!(raw("context-switches")["rows"][3]["voluntary"].is_u64());
    assert!(raw("deadlock").is_object());
    // --threads 2: one and two threads, three strategies, two rounds each.
    let stealing = raw("work-stealing");
    assert_eq!(stealing["threads"], serde_json::json!([1, 2]));
    assert_eq!(stealing["runs"][1][1].as_array().unwrap().len(), 2);
    assert_eq!(
        stealing["runs"][1][1][0]["busy"].as_array().unwrap().len(),
        2
    );
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

/// Runs `args`, expecting exit code 2, a message on stderr containing `message`, and
/// nothing run (no experiment's header on stdout).
fn fails_with_2(args: &[&str], message: &str) {
    let output = lab(args);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    let error = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(error.starts_with("weft-lab: "), "{error}");
    assert!(error.contains(message), "{args:?}: {error}");
    assert!(!stdout(&output).contains("== "), "ran before failing");
}

#[test]
fn bad_names_and_unwritable_outputs_exit_with_code_2_before_running() {
    fails_with_2(&["run", "nope"], "no experiment \"nope\"");
    fails_with_2(
        &["tour", "--only", "false-sharing,nope"],
        "--only: no experiment \"nope\"",
    );
    fails_with_2(
        &["tour", "--skip", "nope"],
        "--skip: no experiment \"nope\"",
    );
    fails_with_2(
        &["tour", "--html", "/proc/nope"],
        "--html: cannot write a report in /proc/nope",
    );
    fails_with_2(
        &["tour", "--json", "/nonexistent/dir/x.json"],
        "--json: cannot write /nonexistent/dir/x.json",
    );
    assert_eq!(lab(&["tour", "--quick", "--full"]).status.code(), Some(2));
}

#[test]
fn a_tiny_tour_writes_a_self_contained_html_report() {
    let dir = std::env::temp_dir().join(format!("weft-lab-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = lab(&[
        "tour",
        "--quick",
        "--duration-ms",
        "1",
        "--rounds",
        "1",
        "--only",
        "false-sharing",
        "--html",
        dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("report written to "));
    // No progress bar when stdout is not a terminal.
    assert!(output.stderr.is_empty(), "{output:?}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("well-formed");
    let sections: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("experiment"))
        .collect();
    assert_eq!(sections.len(), 1);
    assert_eq!(
        sections[0].attribute("id"),
        Some("experiment-false-sharing")
    );
    let marks = sections[0]
        .descendants()
        .filter(|n| n.attribute("class") == Some("mark bar"))
        .count();
    assert_eq!(marks, 4, "packed and padded, for two kinds of increment");
    assert!(html.contains(
        "cargo run --release -p weft-lab -- run false-sharing --quick --duration-ms 1 --rounds 1"
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `class:` line of a profile.
fn class_of(output: &Output) -> String {
    stdout(output)
        .lines()
        .find_map(|l| l.strip_prefix("class: "))
        .unwrap_or_else(|| panic!("no class line: {output:?}"))
        .to_string()
}

#[test]
fn profile_calls_sleep_io_bound_and_recommends_an_event_loop() {
    let output = lab(&["profile", "--", "sleep", "1"]);
    assert!(output.status.success(), "{output:?}");
    assert!(class_of(&output).starts_with("I/O-bound"), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("ended: exit code 0"));
    assert!(text.contains("Async I/O with event loops is the most efficient approach"));
    assert!(text.contains("the notes (Multitasking, 2.3 I/O-Bound vs CPU-Bound Workloads)"));
}

#[test]
fn profile_calls_a_busy_loop_cpu_bound() {
    let bin = env!("CARGO_BIN_EXE_weft-lab");
    let output = lab(&["profile", "--", bin, "busy", "--seconds", "1"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(class_of(&output), "CPU-bound", "{output:?}");
    assert!(stdout(&output).contains("require true parallelism"));
    // A shell loop that never ends, killed by --timeout: still CPU-bound, and said so.
    let output = lab(&[
        "profile",
        "--timeout",
        "1",
        "--",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(class_of(&output), "CPU-bound", "{output:?}");
    assert!(stdout(&output).contains("ended: killed after the --timeout"));
}

#[test]
fn profile_scale_reruns_with_the_placeholder_and_fits_amdahl() {
    let bin = env!("CARGO_BIN_EXE_weft-lab");
    let json = std::env::temp_dir().join(format!("weft-lab-profile-{}.json", std::process::id()));
    let output = lab(&[
        "profile",
        "--scale",
        "1,2",
        "--json",
        json.to_str().unwrap(),
        "--",
        bin,
        "busy",
        "--units",
        "20000",
        "--workers",
        "{}",
    ]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains("parallelism p = 2 (in place of {})"),
        "{text}"
    );
    assert!(text.contains("Amdahl fit: serial fraction f = "), "{text}");
    let profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    let runs = profile["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["argv"].as_array().unwrap().last().unwrap(), "2");
    assert!(runs[0]["samples"].is_array());
    assert!(profile["amdahl"]["serial_fraction"].is_f64());
    // Without a placeholder, the variable carries p.
    let output = lab(&[
        "profile",
        "--scale",
        "1,3",
        "--var",
        "N",
        "--",
        "sh",
        "-c",
        "test \"$N\" = 3 || true",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("parallelism p = 3 (N=3)"));
}

#[test]
fn profile_refuses_bad_input_with_exit_code_2() {
    fails_with_2(
        &["profile", "--", "/no/such/command-here"],
        "profile: cannot run \"/no/such/command-here\": no such command",
    );
    fails_with_2(
        &["profile", "--scale", "1,x", "--", "true"],
        "--scale: \"x\" is not a positive whole number",
    );
    fails_with_2(
        &["profile", "--scale", "2", "--", "true"],
        "two parallelisms",
    );
    fails_with_2(
        &["profile", "--json", "/nonexistent/dir/p.json", "--", "true"],
        "--json: cannot write",
    );
    fails_with_2(
        &["profile", "--html", "/tmp", "--", "true"],
        "--html is for tour and run",
    );
    fails_with_2(
        &["profile", "--scale", "1,2", "--var", "A=B", "--", "true"],
        "--var",
    );
    assert_eq!(lab(&["profile"]).status.code(), Some(2));
    assert_eq!(
        lab(&["profile", "--timeout", "0", "--", "true"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_pool_experiments_draw_every_chart_with_data() {
    let dir = std::env::temp_dir().join(format!("weft-lab-pool-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = lab(&[
        &[
            "tour",
            "--threads",
            "2",
            "--only",
            "work-stealing,fork-join-overhead",
            "--html",
            dir.to_str().unwrap(),
        ],
        TINY,
    ]
    .concat());
    assert!(output.status.success(), "{output:?}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("well-formed");
    let class = |n: &roxmltree::Node, c: &str| n.attribute("class") == Some(c);
    let section = |id: &str| {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no section {id}"))
    };
    let charts = |id: &str| -> Vec<(usize, usize, usize)> {
        section(id)
            .descendants()
            .filter(|n| n.tag_name().name() == "svg" && class(n, "chart"))
            .map(|svg| {
                let count = |c: &str| svg.descendants().filter(|n| class(n, c)).count();
                (count("mark line"), count("mark point"), count("mark bar"))
            })
            .collect()
    };
    // Speedup lines: three strategies and the ideal, at 1 and 2 threads; then bars of
    // imbalance, three strategies at two thread counts.
    assert_eq!(charts("experiment-work-stealing"), [(4, 8, 0), (0, 0, 6)]);
    // One bar per operation.
    assert_eq!(charts("experiment-fork-join-overhead"), [(0, 0, 5)]);
}

#[test]
fn the_kitchen_table_fills_every_column_with_worker_processes() {
    let json = std::env::temp_dir().join(format!("weft-lab-kitchen-{}.json", std::process::id()));
    let json_arg = json.to_str().unwrap();
    let output = lab(&[
        &["run", "kitchen-table", "--threads", "2", "--json", json_arg],
        TINY,
    ]
    .concat());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("We have ten kitchens, ten chefs, ten dishes to cook."));
    let header = text
        .lines()
        .find(|l| l.starts_with("workload "))
        .expect("a table header");
    for column in [
        "sequential dishes/s",
        "threads",
        "processes",
        "async",
        "RSS added",
    ] {
        assert!(header.contains(column), "{header}");
    }
    for workload in ["CPU-bound", "I/O, sleep", "I/O, socket"] {
        assert_eq!(
            text.lines().filter(|l| l.starts_with(workload)).count(),
            2,
            "one row per N (1 and 2) for {workload}:\n{text}"
        );
    }
    assert!(!text.contains("not measured"), "{text}");
    assert!(!text.contains("error: "), "{text}");
    assert!(text.contains("on this machine: CPU-bound: "), "{text}");

    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    std::fs::remove_file(&json).unwrap();
    let cells = run["experiments"][0]["raw"]["cells"].as_array().unwrap();
    // Three workloads: sequential once, threads, processes and async at N = 1 and 2.
    assert_eq!(cells.len(), 3 * (1 + 3 * 2), "{cells:?}");
    for cell in cells {
        assert!(
            cell["throughput"]["median"].as_f64().unwrap() > 0.0,
            "{cell}"
        );
        assert!(cell["memory_bytes"].is_number(), "{cell}");
    }
    // Worker processes are whole programs: they add far more than the tasks' memory.
    let memory = |model: &str| {
        cells
            .iter()
            .find(|c| c["model"] == model && c["workload"] == "Sleep" && c["cooks"] == 2)
            .and_then(|c| c["memory_bytes"].as_f64())
            .unwrap()
    };
    assert!(memory("Processes") > memory("Async"), "{cells:?}");
}
