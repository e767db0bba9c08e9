//! How many files the node may have open at once: every connection, library file, peer
//! and database segment takes one. A service starts with a soft limit of 1,024, which
//! about a thousand idle connections use up; the node raises it to the hard limit
//! (`LimitNOFILE=` in the unit) at start.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The open-files limit before and after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub was: u64,
    pub now: u64,
}

/// Raises the soft open-files limit to the hard one. Under systemd with `LimitNOFILE=`
/// both are already equal and nothing is asked of the kernel.
pub fn raise_open_files() -> nix::Result<OpenFiles> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(OpenFiles {
        was: soft,
        now: getrlimit(Resource::RLIMIT_NOFILE)?.0,
    })
}

/// The soft open-files limit now, if the system says.
pub fn open_files() -> Option<u64> {
    getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raised_to_the_hard_limit() {
        let got = raise_open_files().unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(got.now, soft);
        assert_eq!(soft, hard);
        assert!(got.was <= got.now);
        assert_eq!(open_files(), Some(soft));
    }
}
