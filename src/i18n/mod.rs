//! The languages the box speaks, and every word it shows people.
//!
//! The words live in Project Fluent catalogs, one folder per language under `locales/`
//! (`locales/es/listen.ftl`, ...), compiled into the binary (`catalog`). Code never writes
//! a user-visible sentence itself: it asks a [`Tr`] (a language) for a message by id, with
//! the message's variables, through [`t!`]. Plurals, genders and word order are the
//! catalog's business (Fluent selectors); numbers, storage sizes and dates are formatted
//! here (`format`), because fluent-rs leaves number and date formatting to the caller.
//!
//! Log lines and the JSON API stay English and do not come through here.
//!
//! Which language a page is in: the visitor's own choice (the switch's cookie), else the
//! first of the browser's `Accept-Language` the box has, else the station's language
//! (`negotiate`). The station's language, asked on the first-run page, names the feed's
//! `<language>` and the recordings' titles.

mod catalog;
pub mod format;
pub mod negotiate;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use fluent_bundle::{FluentArgs, FluentValue};

/// A language the box speaks, in the order the language switch lists them: Spanish first
/// (the project's first stations), then the other languages of Spain and their
/// neighbours, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Lang {
    Es,
    Ca,
    Eu,
    Gl,
    Pt,
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 7] = [
        Lang::Es,
        Lang::Ca,
        Lang::Eu,
        Lang::Gl,
        Lang::Pt,
        Lang::Fr,
        Lang::En,
    ];

    /// The BCP 47 code: `<html lang>`, the feed's `<language>`, the settings' value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::Ca => "ca",
            Lang::Eu => "eu",
            Lang::Gl => "gl",
            Lang::Pt => "pt",
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language's name in itself, as the switch shows it (the same in every
    /// language, so a lost visitor finds their own).
    pub fn name(self) -> &'static str {
        match self {
            Lang::Es => "Español",
            Lang::Ca => "Català",
            Lang::Eu => "Euskara",
            Lang::Gl => "Galego",
            Lang::Pt => "Português",
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }

    /// A language tag as a browser or a config file writes it (`es`, `es-ES`, `pt_BR`,
    /// `EU`): its primary subtag, when the box speaks it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// This language's messages.
    pub fn tr(self) -> Tr {
        Tr(self)
    }
}

impl TryFrom<String> for Lang {
    type Error = String;

    fn try_from(code: String) -> Result<Self, String> {
        Lang::from_tag(&code).ok_or_else(|| {
            let known: Vec<_> = Lang::ALL.iter().map(|l| l.code()).collect();
            format!(
                "the box does not speak '{code}'; it speaks {}",
                known.join(", ")
            )
        })
    }
}

impl From<Lang> for String {
    fn from(l: Lang) -> String {
        l.code().to_string()
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The messages of one language: what pages, forms and the feed ask for their words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr(Lang);

impl Tr {
    pub fn lang(self) -> Lang {
        self.0
    }

    /// Message `id` with `args`. A message missing from this language (the catalog test
    /// keeps this from happening) falls back to English, then to the id itself, logged.
    pub fn args(self, id: &str, args: Option<&FluentArgs>) -> String {
        catalog::format(self.0, id, args).unwrap_or_else(|| {
            tracing::warn!(lang = %self.0, id, "message missing from the catalog");
            catalog::format(Lang::En, id, args).unwrap_or_else(|| id.to_string())
        })
    }

    /// Message `id` without variables.
    pub fn t(self, id: &str) -> String {
        self.args(id, None)
    }

    /// A message kept for later ([`Msg`]), said in this language.
    pub fn say(self, m: &Msg) -> String {
        if m.args.is_empty() {
            return self.t(m.id);
        }
        let mut args = FluentArgs::new();
        for (name, value) in &m.args {
            match value {
                Arg::Text(s) => args.set(*name, s.as_str()),
                Arg::Int(n) => args.set(*name, *n),
            }
        }
        self.args(m.id, Some(&args))
    }
}

/// `t!(tr, "id")` or `t!(tr, "id", name = value, ...)`: message `id` in `tr`'s language.
/// Values are anything Fluent takes (`&str`, `String`, integers); numbers meant for
/// reading with decimals are formatted first ([`format`]) and passed as text.
///
/// The catalog test finds the ids the code uses by this macro and by [`msg!`]: keep the
/// id a string literal.
#[macro_export]
macro_rules! t {
    ($tr:expr, $id:literal) => {
        $tr.t($id)
    };
    ($tr:expr, $id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::i18n::FluentArgs::new();
        $( args.set(stringify!($name), $value); )+
        $tr.args($id, Some(&args))
    }};
}

/// A message to be said later in a language not known yet (an error made before the
/// page's language is): its id and its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub id: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

/// A variable of a kept message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Int(i64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<Cow<'_, str>> for Arg {
    fn from(s: Cow<'_, str>) -> Self {
        Arg::Text(s.into_owned())
    }
}

macro_rules! int_arg {
    ($($t:ty),+) => { $( impl From<$t> for Arg {
        fn from(n: $t) -> Self { Arg::Int(i64::try_from(n).unwrap_or(i64::MAX)) }
    } )+ };
}
int_arg!(u8, u16, u32, u64, usize, i32, i64);

/// `msg!("id")` or `msg!("id", name = value, ...)`: a [`Msg`], said later with
/// [`Tr::say`].
#[macro_export]
macro_rules! msg {
    ($id:literal) => {
        $crate::i18n::Msg { id: $id, args: Vec::new() }
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::Msg {
            id: $id,
            args: vec![$( (stringify!($name), $crate::i18n::Arg::from($value)) ),+],
        }
    };
}

impl std::fmt::Display for Msg {
    /// English, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Lang::En.tr().say(self))
    }
}
