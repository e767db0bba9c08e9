//! The catalogs, compiled into the binary: one Fluent bundle per language, built on first
//! use from the `.ftl` files of its folder under `locales/`.

use std::sync::LazyLock;

use fluent_bundle::{concurrent::FluentBundle, FluentArgs, FluentResource};

use super::Lang;

/// The files of every language's folder: each language has the same files, with the same
/// message ids (the catalog test checks it).
pub(super) const FILES: [&str; 4] = ["common.ftl", "listen.ftl", "admin.ftl", "dashboard.ftl"];

macro_rules! folder {
    ($code:literal) => {
        [
            include_str!(concat!("../../locales/", $code, "/common.ftl")),
            include_str!(concat!("../../locales/", $code, "/listen.ftl")),
            include_str!(concat!("../../locales/", $code, "/admin.ftl")),
            include_str!(concat!("../../locales/", $code, "/dashboard.ftl")),
        ]
    };
}

/// The text of `lang`'s files, in the order of [`FILES`].
pub(super) fn sources(lang: Lang) -> [&'static str; 4] {
    match lang {
        Lang::Es => folder!("es"),
        Lang::Ca => folder!("ca"),
        Lang::Eu => folder!("eu"),
        Lang::Gl => folder!("gl"),
        Lang::Pt => folder!("pt"),
        Lang::Fr => folder!("fr"),
        Lang::En => folder!("en"),
    }
}

static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> =
    LazyLock::new(|| Lang::ALL.into_iter().map(bundle).collect());

fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let id = lang
        .code()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // The words go into HTML (escaped by maud) and plain text, never into bidirectional
    // text: Unicode isolation marks around variables would only get in the way.
    b.set_use_isolating(false);
    for (file, text) in FILES.iter().zip(sources(lang)) {
        // A broken catalog is a build mistake the catalog test catches; at run time the
        // messages that did parse are still used.
        let res = FluentResource::try_new(text.to_string()).unwrap_or_else(|(res, errors)| {
            tracing::error!(%lang, file, "catalog has errors: {errors:?}");
            res
        });
        if let Err(errors) = b.add_resource(res) {
            tracing::error!(%lang, file, "catalog repeats messages: {errors:?}");
        }
    }
    b
}

/// Message `id` of `lang` with `args`, or `None` when the catalog lacks it.
pub(super) fn format(lang: Lang, id: &str, args: Option<&FluentArgs>) -> Option<String> {
    let b = &BUNDLES[Lang::ALL.iter().position(|l| *l == lang)?];
    let pattern = b.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = b.format_pattern(pattern, args, &mut errors);
    if !errors.is_empty() {
        tracing::warn!(%lang, id, "message formatted with errors: {errors:?}");
    }
    Some(text.into_owned())
}
