//! Which language a visitor gets: their own choice, else their browser's, else the
//! station's. Pure functions of the request's header values, so the rule is tested here
//! without a server.

use super::Lang;

/// The cookie the language switch sets: the visitor's own choice, which wins.
pub const COOKIE: &str = "sp2p_lang";

/// The languages an `Accept-Language` value asks for, best first: tags with `q=0` are
/// refused, ties keep the header's order, tags the box does not speak are left out, and
/// an unparsable quality counts as 0 (RFC 9110 §12.5.4). At most 32 entries are read.
pub fn accepted(header: &str) -> Vec<Lang> {
    let mut tags: Vec<(u16, usize, Lang)> = header
        .split(',')
        .take(32)
        .enumerate()
        .filter_map(|(i, part)| {
            let mut fields = part.split(';');
            let lang = Lang::from_tag(fields.next()?)?;
            let q = fields
                .filter_map(|f| f.trim().strip_prefix("q=").or(f.trim().strip_prefix("Q=")))
                .map(quality)
                .next()
                .unwrap_or(1000);
            (q > 0).then_some((q, i, lang))
        })
        .collect();
    tags.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<Lang> = Vec::new();
    for (_, _, l) in tags {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// A quality value in thousandths (`0.8` is 800); anything else than `0`..`1` with up to
/// three decimals counts as 0.
fn quality(v: &str) -> u16 {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().unwrap_or(0);
    match int {
        "0" => thousandths,
        "1" if thousandths == 0 => 1000,
        _ => 0,
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The language of a page: the switch's cookie, else the browser's best, else the
/// station's.
pub fn choose(cookie_header: Option<&str>, accept_language: Option<&str>, station: Lang) -> Lang {
    cookie_header
        .and_then(|c| cookie(c, COOKIE))
        .and_then(Lang::from_tag)
        .or_else(|| accept_language.and_then(|a| accepted(a).into_iter().next()))
        .unwrap_or(station)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_values_are_honoured() {
        assert_eq!(accepted("es-ES,es;q=0.9,en;q=0.8"), [Lang::Es, Lang::En]);
        assert_eq!(accepted("en;q=0.5, eu"), [Lang::Eu, Lang::En]);
        assert_eq!(accepted("de-DE, fr;q=0.7, ca;q=0.7"), [Lang::Fr, Lang::Ca]);
        assert_eq!(accepted("gl;q=0, pt-BR"), [Lang::Pt]);
        assert_eq!(accepted("es;q=1.5, en;q=abc, fr;q=0.25"), [Lang::Fr]);
        assert_eq!(accepted("*"), []);
        assert_eq!(accepted(""), []);
    }

    #[test]
    fn the_visitors_choice_then_the_browser_then_the_station() {
        let c = Some("sp2p_session=x; sp2p_lang=eu");
        assert_eq!(choose(c, Some("fr"), Lang::Es), Lang::Eu);
        assert_eq!(choose(Some("sp2p_lang=xx"), Some("fr"), Lang::Es), Lang::Fr);
        assert_eq!(choose(None, Some("de, ja"), Lang::Ca), Lang::Ca);
        assert_eq!(choose(None, None, Lang::Gl), Lang::Gl);
    }
}
