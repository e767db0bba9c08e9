//! The catalogs against each other and against the code: every language has every message
//! with the same variables, nothing fails to parse, every message the code asks for
//! exists, and no catalog keeps a message the code never uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::{catalog, Lang};

/// Message id -> its variables (and the messages it refers to, as `msg:ID`).
type Catalog = BTreeMap<String, BTreeSet<String>>;

fn pattern_vars(p: &Pattern<&str>, out: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let PatternElement::Placeable { expression } = el {
            expression_vars(expression, out);
        }
    }
}

fn expression_vars(e: &Expression<&str>, out: &mut BTreeSet<String>) {
    match e {
        Expression::Inline(i) => inline_vars(i, out),
        Expression::Select { selector, variants } => {
            inline_vars(selector, out);
            for v in variants {
                pattern_vars(&v.value, out);
            }
        }
    }
}

fn inline_vars(i: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            out.insert(format!("${}", id.name));
        }
        InlineExpression::MessageReference { id, .. } => {
            out.insert(format!("msg:{}", id.name));
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, out),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, out);
            }
        }
        _ => {}
    }
}

/// One file of one language, parsed: a syntax error fails the test.
fn parse(lang: Lang, file: &str, text: &str) -> Catalog {
    let res = fluent_syntax::parser::parse(text)
        .unwrap_or_else(|(_, errors)| panic!("{lang}/{file} does not parse: {errors:?}"));
    let mut out = Catalog::new();
    for entry in &res.body {
        match entry {
            Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(v) = &m.value {
                    pattern_vars(v, &mut vars);
                }
                let fresh = out.insert(m.id.name.to_string(), vars).is_none();
                assert!(fresh, "{lang}/{file}: message {} twice", m.id.name);
            }
            Entry::Junk { content } => panic!("{lang}/{file}: cannot read {content:?}"),
            _ => {}
        }
    }
    out
}

/// Every Rust file under `src/`, as text.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    walkdir::WalkDir::new(&root)
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .filter(|e| !e.path().ends_with("i18n/tests.rs"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            (e.path().display().to_string(), text)
        })
        .collect()
}

/// The ids the code asks for: the first string literal of every `t!(tr, "...")`,
/// `msg!("...")` and `.t("...")`.
fn asked_for(code: &str) -> Vec<String> {
    // Comments show the macros with made-up ids.
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let code = code.as_str();
    let mut ids = Vec::new();
    for call in ["t!(", "msg!(", ".t("] {
        for (at, _) in code.match_indices(call) {
            // `t!(` but not `format!(`.
            let before = code[..at].chars().next_back();
            if call == "t!(" && before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[at + call.len()..];
            // The id is the first literal, before the call's first `)`.
            let end = rest.find(')').unwrap_or(rest.len());
            if let Some(start) = rest[..end].find('"') {
                if let Some(len) = rest[start + 1..].find('"') {
                    ids.push(rest[start + 1..start + 1 + len].to_string());
                }
            }
        }
    }
    ids
}

#[test]
fn every_language_has_every_message_with_the_same_variables() {
    for (i, file) in catalog::FILES.iter().enumerate() {
        let english = parse(Lang::En, file, catalog::sources(Lang::En)[i]);
        assert!(!english.is_empty(), "en/{file} is empty");
        for lang in Lang::ALL {
            let other = parse(lang, file, catalog::sources(lang)[i]);
            let missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang}/{file} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang}/{file} has {extra:?}, which en/{file} has not"
            );
            for (id, vars) in &english {
                assert_eq!(
                    vars, &other[id],
                    "{lang}/{file}: {id} has other variables than in English"
                );
            }
        }
    }
}

#[test]
fn the_code_and_the_catalogs_agree() {
    let mut known = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    for (i, file) in catalog::FILES.iter().enumerate() {
        for (id, vars) in parse(Lang::En, file, catalog::sources(Lang::En)[i]) {
            referenced.extend(
                vars.iter()
                    .filter_map(|v| v.strip_prefix("msg:"))
                    .map(String::from),
            );
            known.insert(id);
        }
    }
    let code = sources();
    for (path, text) in &code {
        for id in asked_for(text) {
            assert!(
                known.contains(&id),
                "{path} asks for message {id:?}, which no catalog has"
            );
        }
    }
    let unused: Vec<_> = known
        .iter()
        .filter(|id| !referenced.contains(*id))
        .filter(|id| {
            !code
                .iter()
                .any(|(_, text)| text.contains(&format!("\"{id}\"")))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "messages the code never uses: {unused:?}"
    );
}
