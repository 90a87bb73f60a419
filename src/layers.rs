//! docs/ARCHITECTURE.md's layers, enforced: no module imports from a layer above its own.
//! (A test module of lib.rs; this file itself is skipped, its test text names layers on purpose.)

use std::path::Path;

/// Each top-level module's layer, bottom first (docs/ARCHITECTURE.md, "Layers"); `Error` and
/// `Result` are lib.rs's re-exports of `error`.
const LAYERS: &[&[&str]] = &[
    &["error", "interrupt", "device", "alloc", "Error", "Result"],
    &["data"],
    &["metrics", "nets", "losses"],
    &["methods"],
    &["train"],
    &["model"],
    &["evaluate", "hallucinate"],
    &["harness"],
    &["report", "interop"],
    &["bench"],
    &["cli"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::NAME` in a file's code before its `#[cfg(test)]` module, comments skipped.
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
            rest = after;
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_only_go_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap_or(file);
        let top = rel
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .unwrap_or_default();
        if top == "lib" || top == "main" || top == "layers" {
            continue;
        }
        let Some(own) = layer(&top) else {
            wrong.push(format!("{}: module `{top}` has no layer", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (line, name) in imports(&text) {
            checked += 1;
            match layer(&name) {
                Some(l) if l <= own => {}
                Some(_) => wrong.push(format!(
                    "{}:{line}: `{top}` uses `crate::{name}`, a layer above it",
                    rel.display()
                )),
                None => wrong.push(format!(
                    "{}:{line}: `crate::{name}` is in no layer",
                    rel.display()
                )),
            }
        }
    }
    assert!(checked > 200, "found only {checked} crate:: paths");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::data::x;\n// crate::cli in a comment\nfn f() { crate::harness::y(); }\n#[cfg(test)]\nmod t { use crate::cli; }\n";
    assert_eq!(
        imports(text),
        vec![(1, "data".to_string()), (3, "harness".to_string())]
    );
    assert!(layer("harness") > layer("data"));
}
