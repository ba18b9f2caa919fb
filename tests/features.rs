//! The small example per feature under `examples/features/` (each a
//! program, its events and the actions it must produce) replays to its
//! `actions.jsonl` byte for byte, compiles without a warning, and is in
//! canonical form — so what the README points a newcomer at works.

use std::path::Path;

#[test]
fn every_feature_example_replays_to_its_actions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/features");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("examples/features")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "{} examples", dirs.len());
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{name}/{f}: {e}"))
        };
        let source = read("rules.siyu");
        let program =
            siyu::compile(&source).unwrap_or_else(|e| panic!("{name}: {}", e.render(&name)));
        assert!(
            program.warnings().is_empty(),
            "{name}: {}",
            program.render_warnings(&name)
        );
        let formatted = siyu::syntax::format(&source, &siyu::Limits::default()).expect("it parses");
        assert_eq!(
            formatted, source,
            "{name}: not in canonical form (siyu fmt)"
        );
        let mut engine = siyu::Engine::new(&program);
        let mut out = Vec::new();
        let mut write = |a: siyu::ActionRef<'_>| a.write_json_line(&mut out);
        let events = read("events.jsonl");
        engine
            .replay_from(events.as_bytes(), &mut write, &mut |n, e| {
                panic!("{name}:{n}: {e}")
            })
            .expect("in memory");
        engine.replay_end_into(None, &mut write);
        let want = read("actions.jsonl");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), want, "{name}");
    }
}
