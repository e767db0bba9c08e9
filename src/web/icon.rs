//! The station's generated icon: its initials in white on the listen page's accent colour,
//! as a PNG of any size, for the home screen (`manifest`) until the station sets a logo.
//!
//! Drawn with tiny-skia (paths, anti-aliasing and the PNG encoder in one small crate, no
//! system libraries) from glyph outlines read with ttf-parser out of a 13 kB subset of
//! DejaVu Sans Bold (digits, Latin capitals with their accents, and ♪ for a name with none
//! of those), kept in `assets/fonts`; a full font or a text-shaping SVG renderer would add
//! hundreds of kilobytes to the Pi's binary for two letters.

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Transform};
use ttf_parser::{Face, OutlineBuilder};

/// Subset of DejaVu Sans Bold (license: `assets/fonts/DejaVu-LICENSE`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold-capitals.ttf");

/// The listen page's `--accent` and `--bg` (`assets/listen.css`).
pub const ACCENT: (u8, u8, u8) = (0xb3, 0x26, 0x1e);
pub const ACCENT_HEX: &str = "#b3261e";
pub const BACKGROUND_HEX: &str = "#fffdf8";
pub const BACKGROUND: [u8; 3] = [0xff, 0xfd, 0xf8];

/// Drawn when no letter of the name is in the font (a name in another script).
const FALLBACK: char = '♪';

/// The letters' box, as a share of the icon's side: inside the circle of a maskable icon's
/// safe zone (radius 0.4), which is also the disc's inner part.
const TEXT_WIDTH: f32 = 0.5;
const TEXT_HEIGHT: f32 = 0.34;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A disc on a transparent square: the icon as the system shows it unmasked.
    Disc,
    /// The colour to every edge: a maskable icon (the system cuts its own shape) and
    /// Apple's touch icon (which would fill transparency with black).
    FullBleed,
}

#[derive(Debug, thiserror::Error)]
pub enum IconError {
    #[error("the icon font cannot be read")]
    Font,
    #[error("an icon of {0} px cannot be drawn")]
    Size(u32),
    #[error("encoding the icon: {0}")]
    Png(String),
}

/// Up to two initials of `name`, capitals, those the font has; the fallback if none.
pub fn initials(name: &str) -> String {
    let Ok(face) = Face::parse(FONT, 0) else {
        return FALLBACK.to_string();
    };
    let found: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .filter_map(|c| c.to_uppercase().next())
        .filter(|&c| face.glyph_index(c).is_some())
        .take(2)
        .collect();
    if found.is_empty() {
        FALLBACK.to_string()
    } else {
        found
    }
}

/// `text` (from [`initials`]) on the accent colour, `size` px square, as PNG.
pub fn render(text: &str, size: u32, shape: Shape) -> Result<Vec<u8>, IconError> {
    let face = Face::parse(FONT, 0).map_err(|_| IconError::Font)?;
    let mut pixmap = Pixmap::new(size, size).ok_or(IconError::Size(size))?;
    let side = size as f32;
    let mut paint = Paint::default();
    let (r, g, b) = ACCENT;
    paint.set_color_rgba8(r, g, b, 255);
    paint.anti_alias = true;
    match shape {
        Shape::FullBleed => pixmap.fill(Color::from_rgba8(r, g, b, 255)),
        Shape::Disc => {
            let disc = PathBuilder::from_circle(side / 2.0, side / 2.0, side / 2.0)
                .ok_or(IconError::Size(size))?;
            pixmap.fill_path(
                &disc,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
    // The glyphs side by side in font units (y up), then scaled into the letters' box.
    let mut outline = Outline(PathBuilder::new(), 0.0);
    for c in text.chars() {
        let Some(id) = face.glyph_index(c) else {
            continue;
        };
        face.outline_glyph(id, &mut outline);
        outline.1 += f32::from(face.glyph_hor_advance(id).unwrap_or(0));
    }
    if let Some(path) = outline.0.finish() {
        let bounds = path.bounds();
        let scale = (TEXT_WIDTH * side / bounds.width()).min(TEXT_HEIGHT * side / bounds.height());
        let (cx, cy) = (
            bounds.left() + bounds.width() / 2.0,
            bounds.top() + bounds.height() / 2.0,
        );
        let place = Transform::from_row(
            scale,
            0.0,
            0.0,
            -scale,
            side / 2.0 - scale * cx,
            side / 2.0 + scale * cy,
        );
        paint.set_color_rgba8(255, 255, 255, 255);
        pixmap.fill_path(&path, &paint, FillRule::Winding, place, None);
    }
    pixmap
        .encode_png()
        .map_err(|e| IconError::Png(e.to_string()))
}

/// Collects a glyph's outline into a path, shifted right by the advance so far.
struct Outline(PathBuilder, f32);

impl OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x + self.1, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x + self.1, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1 + self.1, y1, x + self.1, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0
            .cubic_to(x1 + self.1, y1, x2 + self.1, y2, x + self.1, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_in_capitals_the_font_has() {
        assert_eq!(initials("Radio Vallekas"), "RV");
        assert_eq!(initials("àrea de ràdio lliure"), "ÀD");
        assert_eq!(initials("  Kalapita  "), "K");
        assert_eq!(initials("¡Onda Verde!"), "OV");
        assert_eq!(initials("ラジオ"), "♪");
        assert_eq!(initials(""), "♪");
    }

    /// The letters are drawn: white pixels in the middle, accent at the edge of a maskable
    /// icon, transparent corners on the disc.
    #[test]
    fn draws_letters_on_the_accent() {
        for (text, shape) in [("RV", Shape::FullBleed), ("♪", Shape::Disc)] {
            let png = render(text, 192, shape).unwrap();
            let p = Pixmap::decode_png(&png).unwrap();
            assert_eq!((p.width(), p.height()), (192, 192));
            let white = p
                .pixels()
                .iter()
                .filter(|c| c.red() == 255 && c.green() == 255)
                .count();
            assert!(white > 192 * 192 / 100, "{text}: {white} white pixels");
            let corner = p.pixel(0, 0).unwrap();
            match shape {
                Shape::FullBleed => assert_eq!(corner.red(), ACCENT.0),
                Shape::Disc => assert_eq!(corner.alpha(), 0),
            }
        }
        assert!(matches!(
            render("A", 0, Shape::Disc),
            Err(IconError::Size(0))
        ));
    }
}
