//! The user guides, from `docs/` in the repository: the same text, so the
//! crate's documentation carries them and `cargo test` runs their Rust
//! examples.

#[doc = include_str!("../docs/language.md")]
pub mod language {}

#[doc = include_str!("../docs/host.md")]
pub mod host {}
