//! `siyu explain-code`: the page of docs/codes.md about one code.

use crate::input::FAILED;

/// The reference of every diagnostic code, one `## CODE: title` section
/// each (the same file the docs link to).
const CODES: &str = include_str!("../../docs/codes.md");

/// Exit code 0 explained, 2 no such code.
pub fn run(code: Option<&str>, list: bool) -> u8 {
    if list {
        for c in siyu::Code::ALL {
            println!("{}  {}", c.as_str(), c.title());
        }
        return 0;
    }
    let Some(code) = code.and_then(siyu::Code::parse) else {
        eprintln!(
            "error: no such code `{}` (siyu explain-code --list shows them all)",
            code.unwrap_or("")
        );
        return FAILED;
    };
    match section(CODES, code.as_str()) {
        Some(text) => {
            print!("{text}");
            0
        }
        None => {
            eprintln!("error: {} has no page in docs/codes.md", code.as_str());
            FAILED
        }
    }
}

/// The section of `doc` headed `## CODE…`, up to the next `## `.
pub fn section<'a>(doc: &'a str, code: &str) -> Option<&'a str> {
    let head = format!("## {code}");
    let start = doc
        .match_indices(&head)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || doc[..i].ends_with('\n'))?;
    let rest = &doc[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 4);
    Some(&rest[..end])
}
