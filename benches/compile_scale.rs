//! Compile time over program size, per shape (issue 18): the slope from 1k
//! to 8k declarations shows whether every pass stays near-linear.
//!
//! `cargo bench --bench compile_scale`

mod shapes;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn compile_scale(c: &mut Criterion) {
    for (name, make) in shapes::SHAPES {
        let mut g = c.benchmark_group(format!("compile_scale/{name}"));
        g.sample_size(10);
        for n in [1000, 2000, 4000, 8000] {
            let source = make(n);
            assert!(siyu::compile(&source).is_ok(), "{name} at {n} compiles");
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::from_parameter(n), &source, |b, s| {
                b.iter(|| siyu::compile(black_box(s)).map(|p| p.fingerprint()))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, compile_scale);
criterion_main!(benches);
