//! The HTTP side of languages: which language a request's page is in ([`PageLang`]), the
//! language switch (`GET /lang`, and its markup), and error pages said in the visitor's
//! language ([`said`], rendered by [`render_said`]).
//!
//! Errors are often made where the request's language is not at hand (a rejection, an
//! `IntoResponse`): they answer with a [`Said`] marker and an empty body, and one layer
//! around the whole router, which knows the request, writes the page.

use axum::{
    extract::{FromRequestParts, Query, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use maud::{html, Markup};
use serde_json::json;

use super::{page::document, AppState};
use crate::{
    i18n::{negotiate, Lang, Msg, Tr},
    msg, t,
};

/// The language of this request's page (see [`negotiate::choose`]).
pub fn tr_for(app: &AppState, headers: &HeaderMap) -> Tr {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    negotiate::choose(
        header(header::COOKIE),
        header(header::ACCEPT_LANGUAGE),
        app.station.settings().station.language,
    )
    .tr()
}

/// Extractor: the language of this request's page.
pub struct PageLang(pub Tr);

impl FromRequestParts<AppState> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageLang(tr_for(app, &parts.headers)))
    }
}

#[derive(serde::Deserialize)]
pub struct SwitchQuery {
    to: String,
    #[serde(default)]
    back: String,
}

/// `GET /lang?to=eu&back=/admin`: remembers the visitor's language for a year and goes
/// back. Only the visitor's own page language changes (a cookie), nothing of the station,
/// so a plain link does it. `back` must be a path on this box (no open redirect).
pub async fn switch(Query(q): Query<SwitchQuery>) -> Response {
    let back = if q.back.starts_with('/') && !q.back.starts_with("//") && !q.back.contains('\\') {
        q.back.as_str()
    } else {
        "/"
    };
    let Some(lang) = Lang::from_tag(&q.to) else {
        return Redirect::to(back).into_response();
    };
    let mut r = Redirect::to(back).into_response();
    let cookie = format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        negotiate::COOKIE,
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The language switch: the current language's name, opening to the others, each a link
/// written in its own language. `back` is the page to come back to.
pub fn switcher(tr: Tr, back: &str) -> Markup {
    let back = percent_encoding::utf8_percent_encode(back, percent_encoding::NON_ALPHANUMERIC);
    html! {
        details class="lang" {
            // The label and the current language side by side, no colon: French writes one
            // with a space before it, the others without.
            summary {
                (t!(tr, "language-switch")) " · "
                span lang=(tr.lang().code()) { (tr.lang().name()) }
            }
            ul {
                @for l in Lang::ALL {
                    li {
                        a href={ "/lang?to=" (l.code()) "&back=" (back) } lang=(l.code())
                            hreflang=(l.code())
                            aria-current=[(l == tr.lang()).then_some("true")] { (l.name()) }
                    }
                }
            }
        }
    }
}

/// What an error answer says, rendered in the visitor's language by [`render_said`].
#[derive(Debug, Clone)]
pub enum Said {
    /// An HTML page with a title, a sentence and the way back.
    Page { title: Msg, text: Msg, back: Back },
    /// `{"error": "..."}` for a page's script, which shows it as it is.
    Json(Msg),
    /// A line of plain text (a QR code that cannot be made, ...).
    Text(Msg),
}

/// Where an error page leads back to.
#[derive(Debug, Clone, Copy)]
pub enum Back {
    /// The listen page: for refusals where the config page would refuse again.
    Station,
    /// The config page: for a change that failed, to try again from there.
    Settings,
}

/// An error answer with `status`, said later in the visitor's language.
pub fn said(status: StatusCode, what: Said) -> Response {
    let mut r = status.into_response();
    r.extensions_mut().insert(what);
    r
}

/// `404` for any address the box does not serve.
pub async fn not_found() -> Response {
    missing()
}

/// The 404 page: nothing (or nothing any more, for an old download link) at this address.
pub fn missing() -> Response {
    said(
        StatusCode::NOT_FOUND,
        Said::Page {
            title: msg!("error-not-found-title"),
            text: msg!("error-not-found"),
            back: Back::Station,
        },
    )
}

/// The layer that writes [`Said`] answers in the request's language; every other answer
/// passes unchanged.
pub async fn render_said(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let tr = tr_for(&app, req.headers());
    let mut r = next.run(req).await;
    let Some(what) = r.extensions_mut().remove::<Said>() else {
        return r;
    };
    let (status, headers) = (r.status(), r.headers().clone());
    let mut out = match what {
        Said::Page { title, text, back } => {
            error_page(tr, &tr.say(&title), &tr.say(&text), back).into_response()
        }
        Said::Json(m) => Json(json!({ "error": tr.say(&m) })).into_response(),
        Said::Text(m) => format!("{}\n", tr.say(&m)).into_response(),
    };
    *out.status_mut() = status;
    for (name, value) in &headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

/// An error page: what happened, and the way back.
pub fn error_page(tr: Tr, title: &str, text: &str, back: Back) -> Markup {
    let (href, words) = match back {
        Back::Station => ("/", t!(tr, "error-home")),
        Back::Settings => ("/admin", t!(tr, "error-settings")),
    };
    document(
        tr,
        title,
        super::assets::href::LISTEN_CSS,
        html! {},
        html! {
            main {
                h1 { (title) }
                p { (text) }
                p class="back" { a href=(href) { (words) } }
            }
        },
    )
}
