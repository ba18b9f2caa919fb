//! The C ABI from C: the header is current, and the C programs in
//! `tests/c/` compile with `cc -std=c11 -Wall -Wextra -Werror` against the
//! static library and pass.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn header_is_current() {
    let config = cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root().join("src/ffi/mod.rs"))
        .generate()
        .expect("the header generates");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = root().join("include/siyu.h");
    if std::env::var_os("SIYU_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("writable include/");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/siyu.h is stale: regenerate with SIYU_BLESS=1 cargo test --test c_abi"
    );
}

/// Builds the static library (in its own target directory, so this works
/// from inside `cargo test`) and returns its path.
fn static_library() -> PathBuf {
    let target = root().join("target/c-abi");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--lib", "--target-dir"])
        .arg(&target)
        .current_dir(root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the static library failed");
    target.join("debug/libsiyu.a")
}

fn compile_c(lib: &Path, name: &str) -> PathBuf {
    let out_dir = root().join("target/c-abi/bin");
    std::fs::create_dir_all(&out_dir).expect("creatable");
    let out = out_dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(root().join("include"))
        .arg(root().join(format!("tests/c/{name}.c")))
        .arg(lib)
        .args(pkg_config_field("Libs.private").split_whitespace())
        .arg("-o")
        .arg(&out)
        .status()
        .expect("cc runs");
    assert!(status.success(), "tests/c/{name}.c did not compile");
    out
}

/// A field of `include/siyu.pc.in`, the pkg-config file the host guide
/// tells C hosts to install: the tests link with exactly what it says.
fn pkg_config_field(name: &str) -> String {
    let pc = std::fs::read_to_string(root().join("include/siyu.pc.in")).expect("siyu.pc.in");
    pc.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("siyu.pc.in has no {name}"))
        .trim()
        .to_string()
}

#[test]
fn pkg_config_is_current() {
    assert_eq!(pkg_config_field("Version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(pkg_config_field("Libs"), "-L${libdir} -lsiyu");
}

#[test]
fn c_programs_pass() {
    let lib = static_library();
    let api = compile_c(&lib, "api");
    let out = Command::new(&api).output().expect("runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The C host replays a conformance case to the same actions as Rust.
    let replay = compile_c(&lib, "replay");
    let case = root().join("tests/data/conformance/05_caps_limits_priority");
    let out = Command::new(&replay)
        .arg(case.join("rules.siyu"))
        .arg(case.join("events.jsonl"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_c: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|l| {
            serde_json::from_str::<Vec<serde_json::Value>>(l).expect("a JSON array per line")
        })
        .collect();
    let program = siyu::compile(&std::fs::read_to_string(case.join("rules.siyu")).expect("rules"))
        .expect("compiles");
    let mut engine = siyu::Engine::new(&program);
    let mut from_rust = Vec::new();
    for line in std::fs::read_to_string(case.join("events.jsonl"))
        .expect("events")
        .lines()
    {
        from_rust.extend(engine.replay_line(line).unwrap_or_default());
    }
    from_rust.extend(engine.replay_end(None));
    let from_rust: Vec<serde_json::Value> = from_rust.iter().map(|a| a.to_json()).collect();
    assert_eq!(from_c, from_rust);
}
