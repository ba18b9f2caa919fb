//! The C calls that look into an engine without driving it: explain a
//! rule, the decision trace, segment membership, metrics and the clock.

use super::{
    Failure, SIYU_ERR_UNKNOWN, c_text, guarded, handle, handle_mut, instant_arg, json_text,
    present, put, siyu_engine, to_c,
};
use std::ffi::{c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// Why `rule` would or would not fire for `customer` now, as JSON in
/// `*json`.
///
/// # Safety
/// `e` is a live engine; `customer` and `rule` are NUL-terminated (NULL is
/// refused); `json` is writable (NULL is refused with `SIYU_ERR_NULL`);
/// `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siyu_engine_explain(
    e: *const siyu_engine,
    customer: *const c_char,
    rule: *const c_char,
    json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> c_int {
    // SAFETY: the arguments are forwarded under the caller's guarantees.
    unsafe {
        guarded(err, || {
            let engine = &handle(e, "engine")?.engine;
            let customer = c_text(customer, "customer")?;
            let rule = c_text(rule, "rule")?;
            present(json, "json")?;
            let x = engine
                .explain(customer, rule)
                .map_err(|e| Failure(SIYU_ERR_UNKNOWN, e.to_string()))?;
            put(json, x.to_json().to_string());
            Ok(())
        })
    }
}

/// Starts keeping the engine's decisions (firings scheduled and cancelled,
/// each judgment with its verdict) about the `n` customers at `customers`,
/// or about every customer when `customers` is NULL: the newest `keep` per
/// customer (at least 1). Replaces any trace already kept. Off until
/// called, and then it costs nothing.
///
/// # Safety
/// `e` is a live engine used by this thread only; `customers` is NULL or
/// points at `n` NUL-terminated strings (a NULL among them is refused,
/// and no trace is started); `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siyu_engine_trace(
    e: *mut siyu_engine,
    customers: *const *const c_char,
    n: usize,
    keep: usize,
    err: *mut *mut c_char,
) -> c_int {
    // SAFETY: the arguments are forwarded under the caller's guarantees.
    unsafe {
        guarded(err, || {
            let engine = &mut handle_mut(e, "engine")?.engine;
            if customers.is_null() {
                engine.trace(None, keep);
                return Ok(());
            }
            let ids = std::slice::from_raw_parts(customers, n)
                .iter()
                .map(|&c| c_text(c, "customer"))
                .collect::<Result<Vec<&str>, Failure>>()?;
            engine.trace(Some(&ids), keep);
            Ok(())
        })
    }
}

/// The decisions kept about `customer` (see `siyu_engine_trace`), oldest
/// first, as a JSON array in `*json`: each `{"at", "rule", "kind", …}`
/// with `kind` one of `scheduled`, `cancelled`, `judged`. An empty array
/// when the customer is not followed or nothing was decided.
///
/// # Safety
/// `e` is a live engine; `customer` is NUL-terminated (NULL is refused);
/// `json` is writable (NULL is refused); `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siyu_engine_decisions(
    e: *const siyu_engine,
    customer: *const c_char,
    json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> c_int {
    // SAFETY: the arguments are forwarded under the caller's guarantees.
    unsafe {
        guarded(err, || {
            let engine = &handle(e, "engine")?.engine;
            let customer = c_text(customer, "customer")?;
            present(json, "json")?;
            let decisions: Vec<&crate::engine::Decision> = engine.decisions(customer).collect();
            put(json, json_text(&decisions));
            Ok(())
        })
    }
}

/// Is `customer` in segment `segment` at `rfc3339_time` (at or after the
/// engine's clock)? `*member` is 1 or 0.
///
/// # Safety
/// `e` is a live engine; `customer`, `segment` and `rfc3339_time` are
/// NUL-terminated (NULL is refused); `member` is writable (NULL is
/// refused); `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siyu_engine_segment(
    e: *const siyu_engine,
    customer: *const c_char,
    segment: *const c_char,
    rfc3339_time: *const c_char,
    member: *mut c_int,
    err: *mut *mut c_char,
) -> c_int {
    // SAFETY: the arguments are forwarded under the caller's guarantees.
    unsafe {
        guarded(err, || {
            let engine = &handle(e, "engine")?.engine;
            let customer = c_text(customer, "customer")?;
            let name = c_text(segment, "segment")?;
            let t = instant_arg(rfc3339_time, "rfc3339_time")?;
            present(member, "member")?;
            let program = engine.program();
            let id = program
                .segment_id(name)
                .ok_or_else(|| Failure(SIYU_ERR_UNKNOWN, format!("no segment `{name}`")))?;
            let st = engine
                .customer(customer)
                .ok_or_else(|| Failure(SIYU_ERR_UNKNOWN, format!("no customer `{customer}`")))?;
            *member = c_int::from(st.segment(program, id, t));
            Ok(())
        })
    }
}

/// The engine's metrics as JSON (free with `siyu_string_free`); NULL if
/// `e` is NULL.
///
/// # Safety
/// `e` is NULL or a live engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siyu_engine_metrics(e: *const siyu_engine) -> *mut c_char {
    // SAFETY: the caller guarantees a live engine when non-NULL.
    let Some(e) = (unsafe { e.as_ref() }) else {
        return ptr::null_mut();
    };
    catch_unwind(AssertUnwindSafe(|| {
        serde_json::to_string(e.engine.metrics()).map_or(ptr::null_mut(), to_c)
    }))
    .unwrap_or(ptr::null_mut())
}

/// The latest instant the engine has been driven to, as RFC 3339 (free
/// with `siyu_string_free`); NULL if `e` is NULL or nothing happened yet.
///
/// # Safety
/// `e` is NULL or a live engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siyu_engine_clock(e: *const siyu_engine) -> *mut c_char {
    // SAFETY: the caller guarantees a live engine when non-NULL.
    match unsafe { e.as_ref() }.and_then(|e| e.engine.clock()) {
        Some(t) => to_c(t.to_string()),
        None => ptr::null_mut(),
    }
}
