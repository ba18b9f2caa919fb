//! The documentation is tested like code: every code block in the guides
//! and the README is compiled, parsed or run, every link between them
//! lands on a heading that exists, and every `§` or `docs/…` reference in
//! the code points at a section that exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documents a user reads.
const DOCS: &[&str] = &[
    "README.md",
    "docs/language.md",
    "docs/host.md",
    "docs/codes.md",
    "docs/warnings.md",
    "CHANGELOG.md",
];

/// Documents whose Rust blocks `cargo test` runs as doc tests (the crate's
/// `guide` module includes them).
const DOCTESTED: &[&str] = &["docs/language.md", "docs/host.md"];

struct Block {
    file: String,
    line: usize,
    info: String,
    body: String,
}

fn blocks(file: &str) -> Vec<Block> {
    let text = read(&root().join(file));
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some((i + 1, info.trim().to_string(), String::new()));
                }
            }
            Some((start, info, body)) => {
                if line.trim_start().starts_with("```") {
                    out.push(Block {
                        file: file.to_string(),
                        line: *start,
                        info: std::mem::take(info),
                        body: std::mem::take(body),
                    });
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "{file}: a code block is not closed");
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

#[test]
fn every_code_block_compiles_parses_or_runs() {
    let mut checked = 0;
    for file in DOCS {
        for b in blocks(file) {
            let at = format!("{}:{}", b.file, b.line);
            match b.info.as_str() {
                "siyu" => {
                    if let Err(e) = siyu::compile(&b.body) {
                        panic!("{at}: does not compile:\n{}", e.render(&b.file));
                    }
                }
                "siyu error" => {
                    assert!(siyu::compile(&b.body).is_err(), "{at}: should not compile")
                }
                "json" => {
                    for (i, line) in b.body.lines().enumerate() {
                        if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
                            panic!("{at}+{}: not JSON: {e}", i + 1);
                        }
                    }
                }
                "rust" => assert!(
                    DOCTESTED.contains(file),
                    "{at}: a Rust block where no doc test runs it"
                ),
                "c" => check_c(&at, &b.body),
                "python" => {
                    let path = scratch("block.py");
                    std::fs::write(&path, &b.body).expect("scratch");
                    let ok = Command::new("python3")
                        .args(["-m", "py_compile"])
                        .arg(&path)
                        .status()
                        .expect("python3 runs");
                    assert!(ok.success(), "{at}: Python does not compile");
                }
                "sh" => run_sh(&at, &b.body),
                // Output shown as the user sees it, not code.
                "text" => {}
                other => panic!("{at}: code block of unknown kind `{other}`"),
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} blocks found");
}

/// A C block is compiled against the header (not linked: that is what
/// tests/c_abi.rs does with tests/c/).
fn check_c(at: &str, body: &str) {
    let path = scratch("block.c");
    std::fs::write(&path, body).expect("scratch");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(cc)
        .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(root().join("include"))
        .arg(&path)
        .output()
        .expect("a C compiler runs");
    assert!(
        out.status.success(),
        "{at}: C does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each `siyu …` line of a shell block is run from the repository's root
/// and must do its job (exit 0 or 1: 2 means it could not); other lines
/// (cargo, install) are what the CI script itself runs.
fn run_sh(at: &str, body: &str) {
    for line in body.lines() {
        let line = line.split(" #").next().unwrap_or(line).trim();
        let Some(args) = line.strip_prefix("siyu ") else {
            continue;
        };
        if args.contains(['|', '>', '<', '$', '`']) {
            continue;
        }
        let mut words: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        // What a command writes (`-o FILE`) goes to a scratch directory,
        // not into the repository.
        if let Some(i) = words.iter().position(|w| w == "-o" || w == "--output") {
            if let Some(file) = words.get_mut(i + 1) {
                *file = scratch(file).display().to_string();
            }
        }
        let out = Command::new(env!("CARGO_BIN_EXE_siyu"))
            .args(&words)
            .current_dir(root())
            .output()
            .expect("siyu runs");
        let code = out.status.code().expect("an exit code");
        assert!(
            code == 0 || code == 1,
            "{at}: `{line}` exited {code}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn headings(file: &str) -> Vec<String> {
    read(&root().join(file))
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .collect()
}

#[test]
fn links_between_documents_land_on_headings() {
    let mut seen = 0;
    for file in DOCS {
        let text = read(&root().join(file));
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.starts_with("http") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let doc = if path.is_empty() {
                file.to_string()
            } else {
                dir.join(path).to_string_lossy().into_owned()
            };
            assert!(root().join(&doc).exists(), "{file}: link to missing {doc}");
            if !anchor.is_empty() && doc.ends_with(".md") {
                let slugs: BTreeSet<String> = headings(&doc).iter().map(|h| slug(h)).collect();
                assert!(
                    slugs.contains(anchor),
                    "{file}: link to {doc}#{anchor}, which has no such heading"
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} links found");
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "golden" {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| {
            ["rs", "c", "h", "py", "pest", "md", "toml"].contains(&e.to_str().unwrap_or(""))
        }) {
            out.push(path);
        }
    }
}

#[test]
fn every_section_reference_in_the_code_exists() {
    let language: Vec<String> = headings("docs/language.md");
    let host: Vec<String> = headings("docs/host.md")
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let mut files = Vec::new();
    for dir in [
        "src", "cli", "tests", "examples", "workers", "include", "grammar", "docs", "fuzz",
    ] {
        sources(&root().join(dir), &mut files);
    }
    files.push(root().join("README.md"));
    let mut refs = 0;
    for path in &files {
        let text = read(path);
        let name = path
            .strip_prefix(root())
            .unwrap_or(path)
            .display()
            .to_string();
        // The contract's files are not in the repository.
        for gone in ["LANGUAGE", "HOST"].map(|n| format!("{n}.md")) {
            assert!(
                !text.contains(&gone),
                "{name} cites {gone}, which is not in the repository"
            );
        }
        // `§N`: a numbered section of the language reference.
        for (i, _) in text.match_indices('§') {
            let digits: String = text[i + '§'.len_utf8()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if digits.is_empty() {
                continue;
            }
            let want = format!("§{digits} ");
            assert!(
                language.iter().any(|h| h.starts_with(&want)),
                "{name}: §{digits} is not a section of docs/language.md"
            );
            refs += 1;
        }
        // `docs/FILE.md[, section]`: the file exists, and the section is
        // the start of one of its headings.
        for (i, _) in text.match_indices("docs/") {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| {
                    !(c.is_alphanumeric() || c == '/' || c == '_' || c == '.' || c == '-')
                })
                .unwrap_or(rest.len());
            let doc = rest[..end].trim_end_matches('.');
            if !doc.ends_with(".md") || doc == "docs/FILE.md" {
                continue;
            }
            assert!(
                root().join(doc).exists(),
                "{name}: cites {doc}, which does not exist"
            );
            refs += 1;
            if doc == "docs/host.md" {
                if let Some(section) = rest[end..].strip_prefix(", ") {
                    let section: String = section
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == ' ' || *c == '`')
                        .collect::<String>()
                        .to_lowercase();
                    let section = section.trim();
                    assert!(
                        host.iter()
                            .any(|h| section.starts_with(h.as_str()) || h.starts_with(section)),
                        "{name}: cites docs/host.md, {section}: no such heading"
                    );
                }
            }
        }
    }
    assert!(refs >= 30, "only {refs} references found");
}
