//! The box's own words, read from its message catalogs (`locales/<lang>/*.ftl`) by message
//! id, so that tests follow the translations instead of repeating them.

use super::repo_root;

/// The text of a simple message (no variables, no selectors) of `locales/<lang>/<file>`:
/// the value after `id =`, with its indented continuation lines joined by spaces.
pub fn message(lang: &str, file: &str, id: &str) -> String {
    let path = repo_root().join("locales").join(lang).join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text.lines();
    let first = lines
        .by_ref()
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim_end() == id && !l.starts_with(char::is_whitespace)).then_some(value)
        })
        .unwrap_or_else(|| panic!("no message {id} in {}", path.display()));
    let mut parts = vec![first.trim().to_string()];
    parts.extend(
        lines
            .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
            .map(|l| l.trim().to_string()),
    );
    let value = parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !value.contains('{') && !value.is_empty(),
        "{id} in {} is not a simple message: {value:?}",
        path.display()
    );
    value
}
