//! The `siyu` command end to end, as a script or a person runs it: exit
//! codes, what goes to stdout and stderr, the JSON shapes.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sop() -> PathBuf {
    root().join("examples/sop/sop.siyu")
}

fn events() -> PathBuf {
    root().join("examples/sop/events.jsonl")
}

fn siyu(args: &[&str]) -> Output {
    siyu_in(args, None)
}

fn siyu_in(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_siyu"))
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the siyu binary runs");
    // Fed from a thread: the child writes while it reads, and a full
    // stdout pipe would otherwise stop both.
    let feeder = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || pipe.write_all(&bytes).expect("stdin takes the input"))
    });
    let out = child.wait_with_output().expect("siyu finishes");
    if let Some(f) = feeder {
        f.join().expect("the feeder finishes");
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("siyu exits with a code")
}

/// A file under a fresh directory of the target dir, for tests that write.
fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{}-{}",
        std::process::id(),
        name.replace('.', "_")
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("scratch file");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("paths in tests are UTF-8")
}

/// The syntax errors a newcomer makes, in one file: parse recovery
/// reports each broken declaration in one run.
const BROKEN: &str = "event purchase { amount: number }
event sign_in {}

segmnt big = sum(purchase.amount in 30d) > 100

rule hello { when 3 after sign_in do push(content: \"hi\") }

rule ok { when purchase do add tag \"buyer\" }
";

/// Once a file parses, the checker reports every error in it.
const WRONG: &str = "event purchase { amount: number }

segment loyal = count(purchase where amout > 10 in 90d) >= 3

segment lapsed = since(first_seen) >= 90

segment many = count(purchase in 30d) > \"three\"

rule ok { when purchase do add tag \"buyer\" }
";

#[test]
fn help_shows_a_worked_example_for_every_subcommand() {
    let top = siyu(&["--help"]);
    assert_eq!(code(&top), 0);
    let top = text(&top.stdout);
    assert!(top.contains("Start here:"), "{top}");
    for sub in [
        "check",
        "fmt",
        "replay",
        "explain",
        "next",
        "report",
        "explain-code",
        "completions",
    ] {
        assert!(top.contains(sub), "{sub} is listed in --help");
        let out = siyu(&[sub, "--help"]);
        assert_eq!(code(&out), 0, "{sub} --help");
        let help = text(&out.stdout);
        assert!(
            help.contains("Example:") && help.contains(&format!("siyu {sub} ")),
            "{sub} --help has a worked example:\n{help}"
        );
    }
    let version = siyu(&["--version"]);
    assert_eq!(code(&version), 0);
    assert_eq!(
        text(&version.stdout).trim(),
        format!("siyu {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_argument_exits_2() {
    let out = siyu(&["replay", s(&sop())]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("EVENTS"));
    let out = siyu(&["replay", s(&sop()), s(&events()), "--until", "tomorrow"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn check_reports_every_broken_declaration_with_codes_and_fixes() {
    let file = scratch("broken.siyu", BROKEN);
    let out = siyu(&["check", s(&file)]);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    // Piped: plain text, no colour codes.
    assert!(!err.contains('\x1b'), "{err}");
    for want in [
        "error[E0101]",
        "broken.siyu:4:1",
        "did you mean `segment`?",
        "broken.siyu:6:19",
        "a duration needs a unit: `3d`",
        "checked 1 file: 2 errors, 0 warnings",
    ] {
        assert!(err.contains(want), "stderr has {want:?}:\n{err}");
    }
    // The caret under the source line.
    assert!(
        err.contains("4 | segmnt big") && err.contains("  | ^^^^^^"),
        "{err}"
    );

    let file = scratch("wrong.siyu", WRONG);
    let out = siyu(&["check", s(&file)]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    for want in [
        "wrong.siyu:3:",
        "did you mean `amount`?",
        "wrong.siyu:5:",
        "a duration needs a unit: `90d`",
        "wrong.siyu:7:",
        "checked 1 file: 3 errors, 0 warnings",
    ] {
        assert!(err.contains(want), "stderr has {want:?}:\n{err}");
    }
}

#[test]
fn check_json_is_one_object_per_diagnostic() {
    let broken = scratch("broken_json.siyu", BROKEN);
    let wrong = scratch("wrong_json.siyu", WRONG);
    let out = siyu(&["check", "--format", "json", s(&broken), s(&wrong)]);
    assert_eq!(code(&out), 2);
    let rows: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect();
    let mut seen = Vec::new();
    for r in &rows {
        let mut keys: Vec<&str> = r
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "code",
                "column",
                "end_column",
                "end_line",
                "file",
                "help",
                "line",
                "message",
                "severity"
            ]
        );
        assert_eq!(r["severity"], "error");
        let code = r["code"].as_str().expect("a code");
        assert!(code.starts_with('E') && code.len() == 5, "{code}");
        assert!(r["end_line"].as_u64() >= r["line"].as_u64());
        let file = r["file"].as_str().expect("a file");
        let line = r["line"].as_u64().expect("a line");
        seen.push((file == s(&broken), line, code.to_string()));
    }
    // The keyword typo and the unitless count in one file; the field
    // typo, the unitless number and the type error in the other.
    assert_eq!(seen.len(), 5, "{rows:?}");
    for (in_broken, line) in [(true, 4), (true, 6), (false, 3), (false, 5), (false, 7)] {
        assert!(
            seen.iter().any(|(b, l, _)| *b == in_broken && *l == line),
            "line {line} in {seen:?}"
        );
    }
    assert!(
        rows.iter()
            .any(|r| r["help"].as_str().is_some_and(|h| h.contains("`segment`")))
    );
}

#[test]
fn check_exit_codes() {
    let out = siyu(&["check", s(&sop())]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("checked 1 file: 0 errors"));

    let warned = scratch(
        "warned.siyu",
        "event purchase { amount: number }\nsegment unused = count(purchase) > 1\n\
         rule r { when purchase do add tag \"buyer\" }\n",
    );
    let out = siyu(&["check", s(&warned)]);
    assert_eq!(code(&out), 0);
    assert!(text(&out.stderr).contains("warning[W0303]"));
    let out = siyu(&["check", "--deny-warnings", s(&warned)]);
    assert_eq!(code(&out), 1);
    let out = siyu(&["check", "--format", "json", "--deny-warnings", s(&warned)]);
    assert_eq!(code(&out), 1);
    let row: Value = serde_json::from_str(text(&out.stdout).trim()).expect("one object");
    assert_eq!(row["severity"], "warning");
    assert_eq!(row["code"], "W0303");

    let out = siyu(&["check", "/no/such/file.siyu"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("cannot read /no/such/file.siyu"));
}

#[test]
fn fmt_check_prints_a_diff_and_exits_1_then_fmt_fixes_it() {
    let messy = "event purchase{amount:number}\n# keep me\nrule thanks { when purchase   do push(content:\"hi\") } # and me\n";
    let file = scratch("messy.siyu", messy);
    let out = siyu(&["fmt", "--check", s(&file)]);
    assert_eq!(code(&out), 1);
    let diff = text(&out.stdout);
    assert!(diff.contains("--- ") && diff.contains("+++ "), "{diff}");
    assert!(diff.contains("-event purchase{amount:number}"), "{diff}");
    assert!(
        diff.contains("+event purchase { amount: number }"),
        "{diff}"
    );
    // --check changed nothing.
    assert_eq!(std::fs::read_to_string(&file).expect("file"), messy);

    let out = siyu(&["fmt", s(&file)]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let formatted = std::fs::read_to_string(&file).expect("file");
    assert!(formatted.contains("# keep me") && formatted.contains("# and me"));
    let out = siyu(&["fmt", "--check", s(&file)]);
    assert_eq!(code(&out), 0, "formatting is idempotent");
    assert!(out.stdout.is_empty());

    // Standard input to standard output.
    let out = siyu_in(&["fmt", "-"], Some(messy.as_bytes()));
    assert_eq!(code(&out), 0);
    assert_eq!(text(&out.stdout), formatted);

    // A file that does not parse is an error, and is left alone.
    let broken = scratch("fmt_broken.siyu", BROKEN);
    let out = siyu(&["fmt", s(&broken)]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("error[E0101]"));
    assert_eq!(std::fs::read_to_string(&broken).expect("file"), BROKEN);
}

#[test]
fn replay_writes_the_golden_actions() {
    let golden = std::fs::read(root().join("tests/data/golden/sop.actions.jsonl")).expect("golden");
    let out = siyu(&["replay", s(&sop()), s(&events())]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(out.stdout == golden, "replay differs from the golden file");
    // Piped: no progress bar.
    let err = text(&out.stderr);
    assert!(!err.contains("events/s") && !err.contains('\x1b'), "{err}");

    // The same from standard input.
    let bytes = std::fs::read(events()).expect("events");
    let out = siyu_in(&["replay", s(&sop()), "-"], Some(&bytes));
    assert_eq!(code(&out), 0);
    assert!(out.stdout == golden, "replay of stdin differs");
}

#[test]
fn replay_summary_goes_to_stderr() {
    let out = siyu(&["replay", s(&sop()), s(&events()), "--summary"]);
    assert_eq!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(err.contains("welcome") && err.contains("events"), "{err}");
    let golden = std::fs::read(root().join("tests/data/golden/sop.actions.jsonl")).expect("golden");
    assert!(out.stdout == golden);
}

#[test]
fn replay_names_bad_lines_and_undeclared_types_and_strict_fails() {
    let stream = "{\"customer\":\"a\",\"type\":\"add_friend\",\"time\":\"2026-01-01T00:00:00Z\"}\n\
                  not json\n\
                  {\"customer\":\"a\",\"type\":\"purchse\",\"time\":\"2026-01-02T00:00:00Z\",\"data\":{}}\n\
                  {\"customer\":\"b\",\"type\":\"purchse\",\"time\":\"2026-01-03T00:00:00Z\",\"data\":{}}\n";
    let file = scratch("bad_stream.jsonl", stream);
    let out = siyu(&["replay", s(&sop()), s(&file)]);
    assert_eq!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:2: ", s(&file))), "{err}");
    assert!(
        err.contains(&format!(
            "event type `purchse` is not declared by the program: 2 lines ignored, the first at {}:3",
            s(&file)
        )),
        "{err}"
    );
    let out = siyu(&["replay", "--strict", s(&sop()), s(&file)]);
    assert_eq!(code(&out), 1);
}

#[test]
fn replay_diff_reports_per_rule_changes() {
    let source = std::fs::read_to_string(sop()).expect("sop");
    let tighter = source.replace("limit once per 7d", "limit once per 30d");
    assert_ne!(source, tighter);
    let other = scratch("tighter.siyu", &tighter);
    let out = siyu(&["replay", s(&sop()), s(&events()), "--diff", s(&other)]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("cart_rescue "))
        .unwrap_or_else(|| panic!("a cart_rescue row in\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // Fewer firings under the longer limit.
    let (a, b): (u64, u64) = (cells[1].parse().expect("A"), cells[2].parse().expect("B"));
    assert!(b < a, "{row}");
}

#[test]
fn explain_shows_a_cancelled_firing_and_when() {
    let out = siyu(&[
        "explain",
        s(&sop()),
        s(&events()),
        "u00250",
        "trial_officer",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for want in [
        "rule trial_officer for customer u00250",
        "2026-01-05T01:53:24Z  scheduled, due 2026-01-12T01:53:24Z",
        "2026-01-05T18:01:04Z  cancelled (unless interaction)",
        "now (",
    ] {
        assert!(table.contains(want), "{want:?} in\n{table}");
    }

    let out = siyu(&[
        "explain",
        s(&sop()),
        s(&events()),
        "u00250",
        "trial_officer",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0);
    let e: Value = serde_json::from_str(text(&out.stdout).trim()).expect("one JSON object");
    assert_eq!(e["customer"], "u00250");
    assert_eq!(e["rule"], "trial_officer");
    let history = e["history"].as_array().expect("a history");
    let kinds: Vec<&str> = history.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["scheduled", "cancelled"]);
    assert_eq!(history[1]["by"], "unless interaction");
    assert_eq!(history[1]["at"], "2026-01-05T18:01:04Z");
    let waits = e["waits_for"].as_str().expect("waits_for");
    assert!(
        waits.contains("was cancelled at 2026-01-05T18:01:04Z"),
        "{waits}"
    );
    assert!(e["clauses"].as_array().is_some_and(|c| !c.is_empty()));
}

#[test]
fn explain_every_rule_and_unknown_names() {
    let out = siyu(&["explain", s(&sop()), s(&events()), "u00133"]);
    assert_eq!(code(&out), 0);
    let table = text(&out.stdout);
    assert!(table.contains("rule welcome for customer u00133"));
    assert!(table.contains("rule reactivation for customer u00133"));

    let out = siyu(&["explain", s(&sop()), s(&events()), "u00133", "welcom"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("did you mean `welcome`?"));
    let out = siyu(&["explain", s(&sop()), s(&events()), "nobody"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("`nobody` is not a customer"));
}

#[test]
fn next_lists_scheduled_firings_soonest_first() {
    let out = siyu(&[
        "next",
        s(&sop()),
        s(&events()),
        "--format",
        "json",
        "--limit",
        "25",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let rows: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(rows.len(), 25);
    let ats: Vec<&str> = rows.iter().filter_map(|r| r["at"].as_str()).collect();
    assert_eq!(ats.len(), 25);
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "{ats:?}");
    let mut customers: Vec<&str> = rows.iter().filter_map(|r| r["customer"].as_str()).collect();
    customers.sort_unstable();
    customers.dedup();
    assert_eq!(customers.len(), 25, "one line per customer");
    for r in &rows {
        assert!(r["rule"].is_string() && r["reason"].is_string(), "{r}");
    }

    let c = rows[0]["customer"].as_str().expect("customer");
    let out = siyu(&["next", s(&sop()), s(&events()), "--customer", c]);
    assert_eq!(code(&out), 0);
    let table = text(&out.stdout);
    assert!(table.starts_with("after the replay (clock "), "{table}");
    assert!(table.contains(c));
}

#[test]
fn explain_code_prints_the_page() {
    let out = siyu(&["explain-code", "E0101"]);
    assert_eq!(code(&out), 0);
    assert!(text(&out.stdout).starts_with("## E0101"));
    let out = siyu(&["explain-code", "--list"]);
    assert_eq!(code(&out), 0);
    let list = text(&out.stdout);
    assert!(list.lines().count() >= 10 && list.contains("W0303"));
    let out = siyu(&["explain-code", "E9999"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef siyu"),
        ("fish", "complete -c siyu"),
    ] {
        let out = siyu(&["completions", shell]);
        assert_eq!(code(&out), 0);
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("explain-code"));
    }
}

#[test]
fn a_line_that_is_not_utf8_is_named_and_counted_as_rejected() {
    // Written over the scratch file: `scratch` takes text, this is not.
    let file = scratch("not_utf8.jsonl", "");
    let mut bytes =
        b"{\"customer\":\"a\",\"type\":\"add_friend\",\"time\":\"2026-01-01T00:00:00Z\"}\n"
            .to_vec();
    bytes.extend_from_slice(b"\xff\xfe\n");
    std::fs::write(&file, bytes).expect("scratch file");
    let out = siyu(&["replay", s(&sop()), s(&file), "--summary"]);
    assert_eq!(code(&out), 0);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:2: not UTF-8", s(&file))), "{err}");
    assert!(err.contains("rejected 1 "), "the summary counts it: {err}");
}
