//! `/guide`: the operator's guide, served by the box itself, so a volunteer with only a
//! phone and the box finds it. The guide is kept in the repository as Markdown
//! (`docs/guide/<lang>.md`, pictures in `docs/guide/img/<lang>/`) and compiled into the
//! binary: no request ever names a file on disk.
//!
//! `GET /guide` sends the visitor to the guide in their page language, or to the nearest one
//! written; `GET /guide/{lang}` is the guide as a page; `GET /guide/img/{lang}/{file}` its
//! pictures (made again by `scripts/guide-shots.mjs`).

use axum::{
    extract::Path,
    http::{header, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};
use maud::{html, PreEscaped};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::{
    lang::{self, PageLang},
    page::document,
};
use crate::i18n::Lang;

/// The guides written, by language.
const GUIDES: [(Lang, &str); 6] = [
    (Lang::Es, include_str!("../../docs/guide/es.md")),
    (Lang::Ca, include_str!("../../docs/guide/ca.md")),
    (Lang::Gl, include_str!("../../docs/guide/gl.md")),
    (Lang::Pt, include_str!("../../docs/guide/pt.md")),
    (Lang::Fr, include_str!("../../docs/guide/fr.md")),
    (Lang::En, include_str!("../../docs/guide/en.md")),
];

/// The pictures of each guide: the same screens in every language.
macro_rules! pictures {
    ($code:literal) => {
        [
            (
                "1-setup.png",
                include_bytes!(concat!("../../docs/guide/img/", $code, "/1-setup.png")).as_slice(),
            ),
            (
                "2-dashboard.png",
                include_bytes!(concat!("../../docs/guide/img/", $code, "/2-dashboard.png"))
                    .as_slice(),
            ),
            (
                "3-on-air.png",
                include_bytes!(concat!("../../docs/guide/img/", $code, "/3-on-air.png")).as_slice(),
            ),
            (
                "4-publish.png",
                include_bytes!(concat!("../../docs/guide/img/", $code, "/4-publish.png"))
                    .as_slice(),
            ),
            (
                "5-share.png",
                include_bytes!(concat!("../../docs/guide/img/", $code, "/5-share.png")).as_slice(),
            ),
            (
                "6-listen.png",
                include_bytes!(concat!("../../docs/guide/img/", $code, "/6-listen.png")).as_slice(),
            ),
        ]
    };
}

type Pictures = [(&'static str, &'static [u8]); 6];

fn pictures(lang: Lang) -> Option<Pictures> {
    match lang {
        Lang::Es => Some(pictures!("es")),
        Lang::Ca => Some(pictures!("ca")),
        Lang::Gl => Some(pictures!("gl")),
        Lang::Pt => Some(pictures!("pt")),
        Lang::Fr => Some(pictures!("fr")),
        Lang::En => Some(pictures!("en")),
        Lang::Eu => None,
    }
}

/// The size the pictures are taken at (a phone's screen), so the page keeps their place
/// while they load.
const PICTURE_WIDTH: u32 = 390;
const PICTURE_HEIGHT: u32 = 844;

fn guide(lang: Lang) -> Option<&'static str> {
    GUIDES
        .iter()
        .find(|(l, _)| *l == lang)
        .map(|(_, text)| *text)
}

/// The guide a reader of `lang` gets: their own, else Spanish for the languages of Spain
/// and Portugal (their speakers read it more easily than English), else English.
fn nearest(lang: Lang) -> Lang {
    if guide(lang).is_some() {
        return lang;
    }
    match lang {
        Lang::Ca | Lang::Eu | Lang::Gl | Lang::Pt if guide(Lang::Es).is_some() => Lang::Es,
        _ => Lang::En,
    }
}

/// `GET /guide`: to the guide in the visitor's language.
pub async fn index(PageLang(tr): PageLang) -> Response {
    let mut r = Redirect::to(&format!("/guide/{}", nearest(tr.lang()).code())).into_response();
    // The answer depends on the switch's cookie and the browser's languages.
    r.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    r
}

/// `GET /guide/{lang}`: the guide as a page, with the language switch (which comes back to
/// `/guide`, so the reader lands on the guide in the language chosen).
pub async fn page(Path(code): Path<String>) -> Response {
    let Some((lang, text)) = Lang::ALL
        .into_iter()
        .find(|l| l.code() == code)
        .and_then(|l| Some((l, guide(l)?)))
    else {
        return lang::missing();
    };
    let title = text
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or("streamp2p");
    // The page, its switch included, is in the guide's language, whatever the visitor's.
    document(
        lang.tr(),
        title,
        super::assets::href::LISTEN_CSS,
        html! { style { (PreEscaped(STYLE)) } },
        html! {
            main class="guide" {
                (lang::switcher(lang.tr(), "/guide"))
                (PreEscaped(render(text)))
            }
        },
    )
    .into_response()
}

/// `GET /guide/img/{lang}/{file}`: one of the guide's pictures, from the binary.
pub async fn picture(Path((code, file)): Path<(String, String)>) -> Response {
    let found = Lang::ALL
        .into_iter()
        .find(|l| l.code() == code)
        .and_then(pictures)
        .and_then(|p| p.into_iter().find(|(name, _)| *name == file));
    match found {
        Some((_, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                // The pictures change only with the binary.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => lang::missing(),
    }
}

/// The guide's Markdown as HTML. The Markdown is ours, but raw HTML in it is still shown as
/// text, never passed through; pictures get their size and load lazily.
fn render(markdown: &str) -> String {
    let mut events = Vec::new();
    let mut picture: Option<(String, String)> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match (event, &mut picture) {
            (Event::Start(Tag::Image { dest_url, .. }), None) => {
                picture = Some((dest_url.to_string(), String::new()));
            }
            (Event::End(TagEnd::Image), Some(_)) => {
                let Some((src, alt)) = picture.take() else {
                    continue;
                };
                let img = html! {
                    img src=(src) alt=(alt) width=(PICTURE_WIDTH) height=(PICTURE_HEIGHT)
                        loading="lazy";
                };
                events.push(Event::Html(img.into_string().into()));
            }
            // The picture's description is its alt text, whatever markup it has.
            (Event::Text(t) | Event::Code(t), Some((_, alt))) => alt.push_str(&t),
            (_, Some(_)) => {}
            (Event::Html(t) | Event::InlineHtml(t), None) => events.push(Event::Text(t)),
            (other, None) => events.push(other),
        }
    }
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out
}

/// The guide's own look, on top of the listen page's: readable lines, pictures framed like
/// a phone's screen, the language switch's entries big enough for a thumb.
const STYLE: &str = "\
main.guide{max-width:40rem;margin:0 auto;padding:1rem;line-height:1.55}\
main.guide h1,main.guide h2{line-height:1.25}main.guide h1{margin-top:.5rem}\
main.guide h2{margin-top:2rem}\
main.guide img{display:block;width:100%;max-width:280px;height:auto;margin:1rem auto;\
border:1px solid #8888;border-radius:12px}\
main.guide li{margin:.35rem 0}\
main.guide code{overflow-wrap:anywhere}\
main.guide table{border-collapse:collapse}\
main.guide td,main.guide th{border:1px solid #8888;padding:.3rem .5rem;vertical-align:top}\
main.guide details.lang summary,main.guide details.lang a{display:flex;align-items:center;\
min-height:44px}\
main.guide details.lang ul{list-style:none;margin:0;padding:0 0 0 1rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_as_text_and_pictures_get_their_size() {
        let html = render(
            "# T\n\n<script>alert(1)</script>\n\nA <b>bold</b> word.\n\n\
             ![The **first** screen](img/es/1-setup.png)\n",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
        assert!(
            html.contains(
                r#"<img src="img/es/1-setup.png" alt="The first screen" width="390" height="844" loading="lazy">"#
            ),
            "{html}"
        );
    }

    #[test]
    fn every_guide_has_a_title_and_its_pictures() {
        for (lang, text) in GUIDES {
            assert!(text.starts_with("# "), "{lang}: no title first");
            let pics = pictures(lang).expect("pictures for every guide");
            for (name, bytes) in pics {
                assert!(bytes.starts_with(b"\x89PNG"), "{lang}/{name}");
            }
            for src in render(text).split("<img src=\"").skip(1) {
                let src = src.split('"').next().unwrap_or("");
                let name = src
                    .strip_prefix(&format!("img/{}/", lang.code()))
                    .unwrap_or_else(|| panic!("{lang}: picture {src} not of its language"));
                assert!(
                    pics.iter().any(|(n, _)| *n == name),
                    "{lang}: {src} missing"
                );
            }
        }
    }

    #[test]
    fn readers_get_the_nearest_guide() {
        assert_eq!(nearest(Lang::Es), Lang::Es);
        assert_eq!(nearest(Lang::En), Lang::En);
        for l in Lang::ALL {
            assert!(guide(nearest(l)).is_some(), "{l}");
        }
    }
}
