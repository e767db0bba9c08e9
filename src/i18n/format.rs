//! Numbers, storage sizes, dates and times as a person of each language writes them
//! (`71,1 GB`, `2 de diciembre de 2026`). fluent-rs formats numbers without the
//! language's separators, so they are formatted here and handed to the catalog as text;
//! the words around them (units, month names, plurals) are the catalog's.

use super::{Lang, Tr};

/// The decimal mark, the thousands separator and from how many digits grouping starts
/// (CLDR: Spanish and Portuguese write `1000` but `10.000`).
fn separators(lang: Lang) -> (char, char, usize) {
    match lang {
        Lang::En => ('.', ',', 4),
        Lang::Fr => (',', '\u{202f}', 4),
        Lang::Es | Lang::Pt => (',', '.', 5),
        Lang::Ca | Lang::Eu | Lang::Gl => (',', '.', 4),
    }
}

/// A whole number with the language's thousands separator.
pub fn number(tr: Tr, n: u64) -> String {
    let (_, group, from) = separators(tr.lang());
    let digits = n.to_string();
    if digits.len() < from {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(group);
        }
        out.push(c);
    }
    out
}

/// `x` with `decimals` digits after the language's decimal mark.
pub fn decimal(tr: Tr, x: f64, decimals: usize) -> String {
    let (mark, _, _) = separators(tr.lang());
    let x = if x.is_finite() { x.max(0.0) } else { 0.0 };
    let s = format!("{x:.decimals$}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let whole = number(tr, int.parse().unwrap_or(0));
    if frac.is_empty() {
        whole
    } else {
        format!("{whole}{mark}{frac}")
    }
}

/// A storage size or an amount of data in the unit a person would pick: decimal units
/// as phones and computers show them today, one decimal from megabytes on (`71,1 GB`, not
/// `71099,7 MB`), the number and its unit never split over two lines.
pub fn size(tr: Tr, bytes: u64) -> String {
    const K: f64 = 1e3;
    let b = bytes as f64;
    let text = if bytes < 1000 {
        crate::t!(tr, "size-bytes", n = number(tr, bytes))
    } else if b < K * K {
        crate::t!(tr, "size-kb", n = number(tr, (b / K).round() as u64))
    } else if b < K * K * K {
        crate::t!(tr, "size-mb", n = decimal(tr, b / (K * K), 1))
    } else if b < K * K * K * K {
        crate::t!(tr, "size-gb", n = decimal(tr, b / (K * K * K), 1))
    } else {
        crate::t!(tr, "size-tb", n = decimal(tr, b / (K * K * K * K), 1))
    };
    on_one_line(&text)
}

/// `text` with no-break spaces, so a number and its unit (`71,1 GB`, `1 h 2 min`) are never
/// split over two lines.
pub fn on_one_line(text: &str) -> String {
    text.replace(' ', "\u{a0}")
}

/// An internet speed, from bytes a second, in bits as providers sell it: `850 kbit/s`
/// below a megabit, `1,8 Mbit/s` from there.
pub fn speed(tr: Tr, bytes_per_sec: u64) -> String {
    let bits = bytes_per_sec as f64 * 8.0;
    let text = if bits < 1e6 {
        crate::t!(
            tr,
            "speed-kbit",
            n = number(tr, (bits / 1e3).round() as u64)
        )
    } else {
        crate::t!(tr, "speed-mbit", n = decimal(tr, bits / 1e6, 1))
    };
    on_one_line(&text)
}

/// A calendar date in words (`2 de diciembre de 2026`); `month` 1..=12.
pub fn date(tr: Tr, year: i32, month: u32, day: u32) -> String {
    crate::t!(tr, "date-long", year = year, month = month, day = day)
}

/// A time of day on the 24-hour clock every one of these languages reads (`18:30`).
pub fn time(hour: u32, minute: u32) -> String {
    format!("{hour:02}:{minute:02}")
}

/// A day of the week's name; 0 is Monday.
pub fn weekday(tr: Tr, day: u8) -> String {
    crate::t!(tr, "weekday", day = day)
}

/// How long ago, from seconds (`hace 3 minutos`).
pub fn ago(tr: Tr, secs: u64) -> String {
    match secs {
        s if s < 60 => crate::t!(tr, "ago-now"),
        s if s < 2 * 3600 => crate::t!(tr, "ago-minutes", n = s / 60),
        s if s < 2 * 86400 => crate::t!(tr, "ago-hours", n = s / 3600),
        s => crate::t!(tr, "ago-days", n = s / 86400),
    }
}

/// How long something has been going (`3 d 4 h`, `2 h 5 min`, `12 min`).
pub fn span(tr: Tr, secs: u64) -> String {
    let (d, h, m) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        crate::t!(tr, "span-days", days = d, hours = h)
    } else if h > 0 {
        crate::t!(tr, "span-hours", hours = h, minutes = m)
    } else {
        crate::t!(tr, "span-minutes", minutes = m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sizes_as_each_language_writes_them() {
        let (es, en, fr) = (Lang::Es.tr(), Lang::En.tr(), Lang::Fr.tr());
        assert_eq!(number(es, 1234), "1234");
        assert_eq!(number(es, 12345), "12.345");
        assert_eq!(number(en, 1234), "1,234");
        assert_eq!(number(fr, 1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(size(es, 71_099_700_000), "71,1\u{a0}GB");
        assert_eq!(size(en, 71_099_700_000), "71.1\u{a0}GB");
        assert_eq!(size(fr, 71_099_700_000), "71,1\u{a0}Go");
        assert_eq!(size(es, 2_048), "2\u{a0}kB");
        assert_eq!(size(es, 999), "999\u{a0}B");
        assert_eq!(size(en, 5_260_000), "5.3\u{a0}MB");
        assert_eq!(decimal(es, 0.05, 1), "0,1");
        // Internet speeds in bits, as providers sell them.
        assert_eq!(speed(es, 224_000), "1,8\u{a0}Mbit/s");
        assert_eq!(speed(en, 16_000), "128\u{a0}kbit/s");
        assert_eq!(speed(en, 0), "0\u{a0}kbit/s");
    }

    #[test]
    fn dates_and_time_spans_in_words() {
        assert_eq!(date(Lang::Es.tr(), 2026, 12, 2), "2 de diciembre de 2026");
        assert_eq!(date(Lang::En.tr(), 2026, 12, 2), "2 December 2026");
        assert_eq!(date(Lang::Ca.tr(), 2026, 4, 2), "2 d’abril de 2026");
        assert_eq!(date(Lang::Eu.tr(), 2026, 12, 2), "2026ko abenduaren 2a");
        assert_eq!(weekday(Lang::Gl.tr(), 0), "Luns");
        assert_eq!(ago(Lang::Es.tr(), 61), "hace 1 minuto");
        assert_eq!(ago(Lang::Es.tr(), 600), "hace 10 minutos");
        assert_eq!(ago(Lang::En.tr(), 7300), "2 hours ago");
        assert_eq!(span(Lang::Es.tr(), 90_061), "1 d 1 h");
    }
}
