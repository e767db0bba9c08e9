//! Which of an asset's prepared bodies (brotli, gzip, as is) a request gets, from its
//! `Accept-Encoding` (RFC 9110 §12.5.3): q-values honoured, `*` standing for any coding not
//! named, `identity` acceptable unless refused; among equally wanted codings the smaller
//! body wins (brotli, then gzip). The header is the client's: anything unreadable in it is
//! skipped, never an error.

use axum::http::{header, HeaderMap};

/// A content coding the node has a body for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Gzip,
    Identity,
}

impl Coding {
    /// The `Content-Encoding` value, `None` for the body as is.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Br => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// The coding to answer `headers` with. With nothing acceptable (`identity;q=0` and no
/// known coding), the body goes as is: RFC 9110 allows that rather than an error page.
pub fn choose(headers: &HeaderMap) -> Coding {
    let mut named = Weights::default();
    let mut star = None;
    let values = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok());
    for element in values.flat_map(|v| v.split(',')) {
        let Some((coding, q)) = parse_element(element) else {
            continue;
        };
        match coding.to_ascii_lowercase().as_str() {
            "br" => named.br = Some(q),
            "gzip" | "x-gzip" => named.gzip = Some(q),
            "identity" => named.identity = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    // An unnamed coding takes `*`'s weight; identity is acceptable by default (at the
    // lowest weight, so any coding the client names is preferred), the others only when
    // asked for.
    let br = named.br.or(star).unwrap_or(0.0);
    let gzip = named.gzip.or(star).unwrap_or(0.0);
    let identity = named.identity.or(star).unwrap_or(f32::MIN_POSITIVE);
    [
        (Coding::Br, br),
        (Coding::Gzip, gzip),
        (Coding::Identity, identity),
    ]
    .into_iter()
    .filter(|&(_, q)| q > 0.0)
    // `max_by` keeps the last of equals: reversed, the first listed (smallest) wins ties.
    .rev()
    .max_by(|a, b| a.1.total_cmp(&b.1))
    .map_or(Coding::Identity, |(c, _)| c)
}

#[derive(Default)]
struct Weights {
    br: Option<f32>,
    gzip: Option<f32>,
    identity: Option<f32>,
}

/// `coding[;q=value]` -> (coding, q); `None` for an empty element or an unreadable weight.
fn parse_element(element: &str) -> Option<(&str, f32)> {
    let mut parts = element.split(';');
    let coding = parts.next()?.trim();
    if coding.is_empty() {
        return None;
    }
    let mut q = 1.0;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = value
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some((coding, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    fn pick(values: &[&str]) -> Coding {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        choose(&h)
    }

    #[test]
    fn smallest_acceptable_body_with_weights_honoured() {
        assert_eq!(pick(&[]), Coding::Identity);
        assert_eq!(pick(&["gzip, deflate, br, zstd"]), Coding::Br);
        assert_eq!(pick(&["gzip, deflate"]), Coding::Gzip);
        assert_eq!(pick(&["GZIP"]), Coding::Gzip);
        assert_eq!(pick(&["x-gzip"]), Coding::Gzip);
        assert_eq!(pick(&["br;q=0.5, gzip"]), Coding::Gzip);
        assert_eq!(pick(&["br;q=0, gzip;q=0.1"]), Coding::Gzip);
        assert_eq!(pick(&["br ; q=0.8 , gzip;q=0.8"]), Coding::Br);
        assert_eq!(pick(&["*"]), Coding::Br);
        assert_eq!(pick(&["*;q=0.5, br;q=0"]), Coding::Gzip);
        assert_eq!(pick(&["identity"]), Coding::Identity);
        assert_eq!(pick(&["identity;q=0.9, gzip;q=0.5"]), Coding::Identity);
        assert_eq!(pick(&["deflate"]), Coding::Identity);
        assert_eq!(pick(&["gzip", "br"]), Coding::Br);
        // Nothing acceptable: the body as is.
        assert_eq!(pick(&["identity;q=0"]), Coding::Identity);
        assert_eq!(pick(&["*;q=0"]), Coding::Identity);
    }

    #[test]
    fn unreadable_elements_are_skipped() {
        assert_eq!(pick(&["br;q=2, gzip"]), Coding::Gzip);
        assert_eq!(pick(&["br;q=x, gzip"]), Coding::Gzip);
        assert_eq!(pick(&["br;q, gzip"]), Coding::Gzip);
        assert_eq!(pick(&["br;q=-0.1"]), Coding::Identity);
        assert_eq!(pick(&[",,, ;q=1, br"]), Coding::Br);
        assert_eq!(pick(&["br;q=NaN"]), Coding::Identity);
        assert_eq!(pick(&[&"gzip,".repeat(2000)]), Coding::Gzip);
    }
}
