//! A page of the config page as an answer: its HTML and the cookie it sets. Apart from the
//! pages themselves so that the error answers (`error`) and the pages (`pages`) can both
//! use it without depending on each other.

use axum::response::{IntoResponse, Response};
use maud::Markup;

use super::auth;

/// A page of the config page, with the cookie it sets (the pre-login forms' token).
#[derive(Debug)]
pub struct Page {
    html: Markup,
    cookie: Option<String>,
}

impl Page {
    pub fn new(html: Markup) -> Self {
        Page { html, cookie: None }
    }

    pub fn with_cookie(self, cookie: String) -> Self {
        Page {
            cookie: Some(cookie),
            ..self
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let page = self.html.into_response();
        match self.cookie {
            Some(c) => auth::set_cookie(page, &c),
            None => page,
        }
    }
}
