//! Compile time over program size, per shape (issue 18): the median of
//! five compiles (lints included) at 1k, 2k, 4k and 8k declarations, and
//! the ratio of each size's time to the previous size's (about 2 when
//! compile is linear). The criterion bench `compile_scale` measures the
//! same programs.
//!
//! `cargo run --release --example compile_scale [-- SHAPE…]` (all shapes
//! when none is named)

#[path = "../benches/shapes/mod.rs"]
mod shapes;

use std::time::Instant;

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    for (name, make) in shapes::SHAPES {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let mut previous: Option<f64> = None;
        let mut row = format!("{name:>22}:");
        for n in [1000, 2000, 4000, 8000] {
            let source = make(n);
            let mut runs: Vec<f64> = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    let compiled = siyu::compile(&source);
                    let t = start.elapsed().as_secs_f64();
                    if let Err(e) = compiled {
                        panic!("{name} at {n}: {}", e.render(name));
                    }
                    t
                })
                .collect();
            runs.sort_by(f64::total_cmp);
            let t = runs[2];
            let ratio = previous.map_or(String::new(), |p| format!(" (x{:.1})", t / p));
            row.push_str(&format!(
                "  {n}: {:.1} ms, {} KiB{ratio}",
                t * 1e3,
                source.len() / 1024
            ));
            previous = Some(t);
        }
        println!("{row}");
    }
}
