//! One segment predicate: siyu against hand-written Rust and four
//! general-purpose expression interpreters (zen-expression,
//! cel-interpreter, rhai, evalexpr). Run:
//! `cargo bench -p siyu-compare --bench predicate`.

use criterion::{Criterion, criterion_group, criterion_main};
use siyu_compare::*;
use std::hint::black_box;

const EXPR_C: &str = "sum180 >= 5000.0 && count180 >= 3 && days_since > 90.0 && (city == \"Shanghai\" || city == \"Beijing\")";

fn predicate(c: &mut Criterion) {
    let mut g = c.benchmark_group("predicate");

    let hand = HandWritten::new();
    assert!(hand.eval(NOW));
    g.bench_function("hand-written", |b| b.iter(|| hand.eval(black_box(NOW))));

    let (program, id, st) = siyu_fixture();
    let now = siyu::Instant::from_unix(NOW).expect("an instant");
    assert!(st.segment(&program, id, now));
    g.bench_function("siyu", |b| {
        b.iter(|| st.segment(&program, id, black_box(now)))
    });

    let i = inputs();

    // zen-expression: compiled once, evaluated against a context.
    let zen = zen_expression::compile_expression(
        "sum180 >= 5000 and count180 >= 3 and days_since > 90 and city in ['Shanghai', 'Beijing']",
    )
    .expect("zen compiles");
    let ctx: zen_expression::variable::Variable = serde_json::json!({
        "sum180": i.sum180, "count180": i.count180, "days_since": i.days_since, "city": i.city
    })
    .into();
    assert_eq!(
        zen.evaluate(ctx.clone()).expect("zen runs"),
        zen_expression::variable::Variable::Bool(true)
    );
    g.bench_function("zen-expression", |b| {
        b.iter(|| zen.evaluate(black_box(ctx.clone())))
    });

    // cel-interpreter.
    let cel = cel_interpreter::Program::compile(
        "sum180 >= 5000.0 && count180 >= 3 && days_since > 90.0 && city in ['Shanghai', 'Beijing']",
    )
    .expect("cel compiles");
    let mut cel_ctx = cel_interpreter::Context::default();
    cel_ctx.add_variable("sum180", i.sum180).expect("var");
    cel_ctx.add_variable("count180", i.count180).expect("var");
    cel_ctx
        .add_variable("days_since", i.days_since)
        .expect("var");
    cel_ctx.add_variable("city", i.city.clone()).expect("var");
    assert_eq!(
        cel.execute(&cel_ctx).expect("cel runs"),
        cel_interpreter::Value::Bool(true)
    );
    g.bench_function("cel-interpreter", |b| {
        b.iter(|| cel.execute(black_box(&cel_ctx)))
    });

    // rhai: an AST evaluated with a scope.
    let engine = rhai::Engine::new();
    let ast = engine.compile_expression(EXPR_C).expect("rhai compiles");
    let mut scope = rhai::Scope::new();
    scope.push("sum180", i.sum180);
    scope.push("count180", i.count180);
    scope.push("days_since", i.days_since);
    scope.push("city", i.city.clone());
    assert!(
        engine
            .eval_ast_with_scope::<bool>(&mut scope, &ast)
            .expect("rhai runs")
    );
    g.bench_function("rhai", |b| {
        b.iter(|| engine.eval_ast_with_scope::<bool>(&mut scope, black_box(&ast)))
    });

    // evalexpr: a precompiled operator tree with a context.
    let tree = evalexpr::build_operator_tree::<evalexpr::DefaultNumericTypes>(EXPR_C)
        .expect("evalexpr compiles");
    let mut ctx = evalexpr::HashMapContext::<evalexpr::DefaultNumericTypes>::new();
    use evalexpr::ContextWithMutableVariables;
    ctx.set_value("sum180".into(), evalexpr::Value::Float(i.sum180))
        .expect("var");
    ctx.set_value("count180".into(), evalexpr::Value::Int(i.count180))
        .expect("var");
    ctx.set_value("days_since".into(), evalexpr::Value::Float(i.days_since))
        .expect("var");
    ctx.set_value("city".into(), evalexpr::Value::String(i.city.clone()))
        .expect("var");
    assert!(tree.eval_boolean_with_context(&ctx).expect("evalexpr runs"));
    g.bench_function("evalexpr", |b| {
        b.iter(|| tree.eval_boolean_with_context(black_box(&ctx)))
    });

    g.finish();
}

criterion_group!(benches, predicate);
criterion_main!(benches);
