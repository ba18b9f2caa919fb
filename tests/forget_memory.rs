//! `$forget` gives back what the customer held: after 20,000 customers are
//! each seen once and forgotten, the engine holds what it held before them
//! (counted by a counting allocator; the only test of this binary, so no
//! other test's allocations are counted).

use siyu::{Engine, Instant, compile};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed unchanged to the system allocator; the
// counter is only read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        LIVE.fetch_add(size as isize - layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn line(customer: &str, kind: &str, t: i64) -> String {
    let time = Instant::from_unix(t).expect("instant");
    format!(
        r#"{{"customer": "{customer}", "type": "{kind}", "time": "{time}", "id": "{customer}-{t}", "data": {{}}}}"#
    )
}

#[test]
fn forgotten_customers_leave_nothing_behind() {
    let program = compile(
        "event visit {}\naction push(content: string)\n\
         segment regular = count(visit in 30d) >= 2\n\
         rule back { when no visit for 7d do push(content: \"miss you\") }\n\
         rule follow { when 1d after visit do push(content: \"thanks\") }",
    )
    .unwrap_or_else(|e| panic!("{}", e.render("test.siyu")));
    let mut engine = Engine::new(&program);
    let mut t = T0;
    for i in 0..100 {
        t += 1;
        engine
            .replay_line(&line(&format!("kept{i}"), "visit", t))
            .expect("valid");
    }
    let before = LIVE.load(Relaxed);
    for i in 0..20_000 {
        let c = format!("gone{i}");
        t += 1;
        engine.replay_line(&line(&c, "visit", t)).expect("valid");
        t += 1;
        engine.replay_line(&line(&c, "$forget", t)).expect("valid");
    }
    let after = LIVE.load(Relaxed);
    assert!(
        after - before <= 16 * 1024,
        "20,000 forgotten customers left {} bytes behind",
        after - before
    );
    assert_eq!(engine.customers().count(), 100);
}
