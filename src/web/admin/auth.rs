//! The HTTP side of who may change the box: the cookies and the local-network rule. The
//! password, sessions and login limit themselves are the station's
//! ([`crate::station::access`]).

use std::{net::IpAddr, time::Duration};

use axum::{
    http::{header, HeaderValue},
    response::Response,
};

/// The session cookie; its value is a random token, kept in sled only as a hash.
pub const SESSION_COOKIE: &str = "sp2p_session";
/// Before login: the double-submit token of the setup and login forms.
pub const FORM_COOKIE: &str = "sp2p_form";

/// The local network: loopback, private (RFC 1918, IPv6 unique local) and link-local
/// addresses. Not the shared range 100.64.0.0/10: behind carrier-grade NAT it holds the
/// ISP's other customers, not the station's.
pub fn is_local(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always (Secure is added to every
/// cookie set over https, see `web::https`). `max_age` 0 deletes the cookie.
pub fn cookie(name: &str, value: &str, max_age: Duration) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    )
}

/// Adds a `Set-Cookie` to an answer. The values are the node's own (random tokens, fixed
/// attributes), so one that is not a valid header value is a bug: left out, not a panic.
pub fn set_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.9",
            "172.20.0.1",
            "169.254.3.3",
        ] {
            assert!(is_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["::1", "fd00::5", "fe80::1", "::ffff:192.168.0.2"] {
            assert!(is_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "203.0.113.7",
            "2001:db8::1",
            "::ffff:1.1.1.1",
            "172.32.0.1",
        ] {
            assert!(!is_local(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn carrier_grade_nat_is_not_local() {
        // 100.64.0.0/10, edges included; its neighbours are ordinary public addresses.
        for ip in [
            "100.64.0.1",
            "100.64.0.0",
            "100.100.7.9",
            "100.127.255.255",
            "::ffff:100.64.3.4",
            "100.63.255.255",
            "100.128.0.0",
        ] {
            assert!(!is_local(ip.parse().unwrap()), "{ip}");
        }
    }
}
