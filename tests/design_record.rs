//! `docs/design.md` lists every top-level module's dependencies; this test reads the source
//! and holds the record to it, so the picture of the code cannot drift from the code. It
//! also keeps the rules the record states: no front end names the store, the tracker core
//! knows no `web` type, and the modules form no cycle.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

type Deps = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its unit tests.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a piece of code names through `root::` (`crate` in the library,
/// the crate's own name in the binary), including inside `use root::{a, b::c}` groups.
fn named(code: &str, root: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let prefix = format!("{root}::");
    let mut rest = code;
    while let Some(at) = rest.find(&prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

fn from_code() -> Deps {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut deps = Deps::new();
    for f in files {
        let rel = f.strip_prefix("src").unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let root = if module == "main" {
            "streamp2p"
        } else {
            "crate"
        };
        let text = code(&std::fs::read_to_string(&f).unwrap());
        let mut names = named(&text, root);
        names.remove(&module);
        deps.entry(module).or_default().extend(names);
    }
    // Only modules count: `crate::t!` and `crate::msg!` are macros exported at the crate's
    // root (the `i18n` module's), not modules of their own.
    let modules: BTreeSet<String> = deps.keys().cloned().collect();
    for names in deps.values_mut() {
        names.retain(|n| modules.contains(n));
    }
    deps
}

fn from_record() -> Deps {
    let doc = std::fs::read_to_string("docs/design.md").unwrap();
    let section = doc
        .split("## Dependencies")
        .nth(1)
        .expect("a Dependencies section");
    let block = section.split("```").nth(1).expect("a code block");
    block
        .lines()
        .filter_map(|l| l.split_once("->"))
        .map(|(m, d)| {
            let d = d.trim();
            let set = if d == "(none)" {
                BTreeSet::new()
            } else {
                d.split(',').map(|x| x.trim().to_string()).collect()
            };
            (m.trim().to_string(), set)
        })
        .collect()
}

#[test]
fn the_design_record_matches_the_code() {
    let code = from_code();
    let record = from_record();
    let mut wrong = Vec::new();
    for (m, d) in &code {
        match record.get(m) {
            None => wrong.push(format!("{m} is not in the record (uses {d:?})")),
            Some(r) if r != d => wrong.push(format!("{m}: record says {r:?}, code uses {d:?}")),
            Some(_) => {}
        }
    }
    for m in record.keys().filter(|m| !code.contains_key(*m)) {
        wrong.push(format!("{m} is in the record but not in src/"));
    }
    assert!(
        wrong.is_empty(),
        "docs/design.md is out of date:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_rules_of_the_record_hold() {
    let code = from_code();
    assert!(
        !code["web"].contains("store"),
        "a front end names the store"
    );
    assert!(
        !code["tracker"].contains("web"),
        "the tracker core uses web"
    );
    // No cycles: a depth-first walk never comes back to a module on its own path.
    fn walk(m: &str, deps: &Deps, path: &mut Vec<String>) {
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m.to_string());
        for d in deps.get(m).into_iter().flatten() {
            walk(d, deps, path);
        }
        path.pop();
    }
    for m in code.keys() {
        walk(m, &code, &mut Vec::new());
    }
}

#[test]
fn the_reader_finds_grouped_and_plain_paths() {
    let c = "use crate::{\n    config::{A, B},\n    web::{self, X},\n    store::Store,\n};\nfn f() { crate::live::go(); notcrate::x(); }";
    let got: Vec<String> = named(c, "crate").into_iter().collect();
    assert_eq!(got, ["config", "live", "store", "web"]);
}
