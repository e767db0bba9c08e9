//! Why a file of the library is not shared: in English for the log and the JSON API
//! (`Display`), and as a message for the config page, said in the operator's language. The
//! system's own error text (permission denied, I/O error) stays in the English form only:
//! the page says what it means for the operator instead.

use crate::{i18n::Msg, msg};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("folder symlink leads outside the library")]
    FolderLinkOutside,
    #[error("folder symlink leads back into itself")]
    FolderLinkLoop,
    #[error("symlink leads outside the library")]
    LinkOutside,
    #[error("symlink leads nowhere: {0}")]
    LinkNowhere(String),
    #[error("file name is not valid UTF-8")]
    NameNotUtf8,
    #[error("not a regular file")]
    NotAFile,
    #[error("empty file")]
    Empty,
    /// Could not be opened, listed or read; the system's reason.
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("changed while being hashed (still being copied?); will retry at the next scan")]
    Changed,
    #[error("cannot record in the database: {0}")]
    NotRecorded(String),
}

impl Problem {
    /// What the config page says about the file.
    pub fn said(&self) -> Msg {
        match self {
            Problem::FolderLinkOutside | Problem::LinkOutside => msg!("dash-problem-link-outside"),
            Problem::FolderLinkLoop => msg!("dash-problem-link-loop"),
            Problem::LinkNowhere(_) => msg!("dash-problem-link-nowhere"),
            Problem::NameNotUtf8 => msg!("dash-problem-name"),
            Problem::NotAFile => msg!("dash-problem-not-a-file"),
            Problem::Empty => msg!("dash-problem-empty"),
            Problem::Unreadable(_) => msg!("dash-problem-unreadable"),
            Problem::Changed => msg!("dash-problem-changed"),
            Problem::NotRecorded(_) => msg!("dash-problem-not-recorded"),
        }
    }
}

impl From<super::hasher::HashError> for Problem {
    fn from(e: super::hasher::HashError) -> Self {
        use super::hasher::HashError;
        match e {
            HashError::Io(io) => Problem::Unreadable(io.to_string()),
            HashError::Changed => Problem::Changed,
            HashError::BadName => Problem::NameNotUtf8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn english_for_the_api_and_the_log_the_operators_language_for_the_page() {
        let p = Problem::Unreadable("Input/output error (os error 5)".into());
        assert_eq!(
            p.to_string(),
            "cannot be read: Input/output error (os error 5)"
        );
        let es = Lang::Es.tr().say(&p.said());
        assert!(es.starts_with("la caja no puede leerlo"), "{es}");
        assert!(!es.contains("os error"), "{es}");
        assert_eq!(Problem::Empty.to_string(), "empty file");
        assert_eq!(
            Lang::Eu.tr().say(&Problem::Empty.said()),
            "fitxategia hutsik dago; kopiatu berriro"
        );
    }
}
