//! Programs of one shape and a given size, for measuring how compile time
//! grows with program size (issue 18): each shape stresses one pass.

/// The declarations every shape's program starts with.
const HEADER: &str = "event purchase { amount: number, sku: string }\n\
                      event interaction { kind: string }\n\
                      profile { city: string }\n\
                      action push(content: string) channel wecom\n";

/// Builds a program of a shape at a size.
pub type Make = fn(usize) -> String;

/// The shapes, by name.
pub const SHAPES: [(&str, Make); 5] = [
    ("chained_segments", chained_segments),
    ("auto_tags", auto_tags),
    ("windowed_segments", windowed_segments),
    ("stage_labels", stage_labels),
    ("near_identical_rules", near_identical_rules),
];

/// `n` segments, each reading the one before (derived-value ordering).
pub fn chained_segments(n: usize) -> String {
    let mut s = String::from(HEADER);
    s.push_str("segment s0 = count(purchase) >= 1\n");
    for i in 1..n {
        s.push_str(&format!(
            "segment s{i} = s{} or count(interaction) >= {i}\n",
            i - 1
        ));
    }
    s.push_str(&format!(
        "rule r {{ when enters s{} do push(content: \"x\") }}\n",
        n - 1
    ));
    s
}

/// `n` auto tags over windows of different lengths.
pub fn auto_tags(n: usize) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        s.push_str(&format!(
            "tag \"t{i}\" when sum(purchase.amount in {}d) >= {}\n",
            1 + i % 365,
            10 * i
        ));
    }
    s
}

/// `n` segments over windows, each read by a rule.
pub fn windowed_segments(n: usize) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        s.push_str(&format!(
            "segment w{i} = count(purchase where amount > {i} in {}d) >= 2\n",
            1 + i % 365
        ));
    }
    for i in (0..n).step_by(10) {
        s.push_str(&format!(
            "rule r{i} {{ when enters w{i} do push(content: \"w{i}\") }}\n"
        ));
    }
    s
}

/// One stage with `n` labels.
pub fn stage_labels(n: usize) -> String {
    let mut s = String::from(HEADER);
    s.push_str("stage big {\n");
    for i in 0..n {
        s.push_str(&format!("  l{i} when sum(purchase.amount) >= {}\n", n - i));
    }
    s.push_str("  rest otherwise\n}\n");
    s.push_str("rule r { when big becomes l0 do push(content: \"top\") }\n");
    s
}

/// `n` rules that differ only in a number (the pairwise lints' worst case).
pub fn near_identical_rules(n: usize) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        s.push_str(&format!(
            "rule r{i} {{ when purchase where amount > {} do push(content: \"m\") }}\n",
            i % 3
        ));
    }
    s
}
