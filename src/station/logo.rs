//! The station's logo: a picture the operator uploads from the phone, kept in the store as
//! one square PNG at the size podcast directories ask for, and scaled from it for each icon.
//! Until there is one, the icons are drawn from the station's initials (`web::icon`).
//!
//! A phone's photo is the usual upload: JPEG (or PNG, WebP) of several megapixels, any
//! shape. It is cut to its centre square, laid on the page's background colour (Apple's
//! directory and home screens want no transparency) and scaled to 1400 px with a Lanczos
//! filter. Decoding is bounded (side and memory), since a small file can claim a huge
//! picture.

use std::io::Cursor;

use image::{imageops::FilterType, DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

use super::{Error, Station};
use crate::store::Setting;

/// The stored logo's side: the smallest Apple Podcasts takes (1400 to 3000 px).
pub const SIDE: u32 = 1400;
/// The largest upload taken (a phone's photo is 2 to 8 MB).
pub const MAX_BYTES: usize = 15 * 1024 * 1024;
/// Pictures with a longer side are refused before they are decoded (a 48-megapixel
/// phone photo is 8000 px).
const MAX_SIDE_IN: u32 = 10_000;
/// Under this a logo would be a blur on a podcast app's page.
const MIN_SIDE_IN: u32 = 200;
/// Memory the decoder may take: a 10 000 x 8 000 photo as RGB, well inside a Pi's.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// The share of a maskable icon the logo takes: the system cuts its own shape out of the
/// square, so the picture keeps to the middle.
const MASKABLE_SHARE: f32 = 0.8;

#[derive(Debug, thiserror::Error)]
pub enum LogoError {
    #[error("the file is not a picture the box can read (JPEG, PNG or WebP)")]
    Unreadable,
    #[error("the picture is {width} x {height} px; at most {MAX_SIDE_IN} px a side is taken")]
    TooLarge { width: u32, height: u32 },
    #[error("the picture is {width} x {height} px; at least {MIN_SIDE_IN} px a side is needed")]
    TooSmall { width: u32, height: u32 },
    #[error("the file is larger than {} MB", MAX_BYTES / 1024 / 1024)]
    TooBig,
    #[error("the picture cannot be written: {0}")]
    Encode(String),
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<crate::store::StoreError> for LogoError {
    fn from(e: crate::store::StoreError) -> Self {
        LogoError::Store(e.into())
    }
}

/// An uploaded picture as the stored logo: its centre square on `background`, `SIDE` px,
/// PNG. CPU-heavy for a large photo (about a second on a Pi): run it off the async threads.
pub fn prepare(upload: &[u8], background: [u8; 3]) -> Result<Vec<u8>, LogoError> {
    if upload.len() > MAX_BYTES {
        return Err(LogoError::TooBig);
    }
    // The header first (its size), then the picture, each from its own reader.
    let (width, height) = reader(upload)?
        .into_dimensions()
        .map_err(|_| LogoError::Unreadable)?;
    if width > MAX_SIDE_IN || height > MAX_SIDE_IN {
        return Err(LogoError::TooLarge { width, height });
    }
    if width < MIN_SIDE_IN || height < MIN_SIDE_IN {
        return Err(LogoError::TooSmall { width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_IN);
    limits.max_image_height = Some(MAX_SIDE_IN);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut picture = reader(upload)?;
    picture.limits(limits);
    let picture = picture.decode().map_err(|_| LogoError::Unreadable)?;
    let side = width.min(height);
    let square = picture.crop_imm((width - side) / 2, (height - side) / 2, side, side);
    let square = square.resize_exact(SIDE, SIDE, FilterType::Lanczos3);
    png(&DynamicImage::ImageRgb8(flatten(&square, background)))
}

/// A reader of `upload` if it is one of the formats taken.
fn reader(upload: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, LogoError> {
    let reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| LogoError::Unreadable)?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => Ok(reader),
        _ => Err(LogoError::Unreadable),
    }
}

/// The stored logo at `side` px; with `maskable`, inside a margin of `background` that a
/// home screen's mask may cut.
pub fn scaled(
    logo_png: &[u8],
    side: u32,
    maskable: bool,
    background: [u8; 3],
) -> Result<Vec<u8>, LogoError> {
    let logo = image::load_from_memory_with_format(logo_png, ImageFormat::Png)
        .map_err(|_| LogoError::Unreadable)?;
    if !maskable {
        return png(&logo.resize_exact(side, side, FilterType::Lanczos3));
    }
    let inner = (side as f32 * MASKABLE_SHARE).round() as u32;
    let small = logo
        .resize_exact(inner, inner, FilterType::Lanczos3)
        .to_rgb8();
    let mut out = RgbImage::from_pixel(side, side, image::Rgb(background));
    let at = i64::from((side - inner) / 2);
    image::imageops::overlay(&mut out, &small, at, at);
    png(&DynamicImage::ImageRgb8(out))
}

/// `picture` over an opaque `background`, by its alpha.
fn flatten(picture: &DynamicImage, background: [u8; 3]) -> RgbImage {
    let rgba = picture.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8, b: u8| ((u16::from(c) * a + u16::from(b) * (255 - a) + 127) / 255) as u8;
        image::Rgb([
            mix(p[0], background[0]),
            mix(p[1], background[1]),
            mix(p[2], background[2]),
        ])
    })
}

fn png(picture: &DynamicImage) -> Result<Vec<u8>, LogoError> {
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| LogoError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

impl Station {
    /// The logo as stored ([`prepare`]d), if the operator gave one. An unreadable record
    /// is reported and read as none: the drawn icon stands in.
    pub fn logo(&self) -> Option<Vec<u8>> {
        match self.store.blob(Setting::Logo) {
            Ok(logo) => logo,
            Err(e) => {
                tracing::warn!("logo: {e}");
                None
            }
        }
    }

    /// Keeps `logo_png` (from [`prepare`]) as the station's logo, durably.
    pub fn save_logo(&self, logo_png: &[u8]) -> Result<(), LogoError> {
        Ok(self.store.set_blob(Setting::Logo, Some(logo_png))?)
    }

    /// Goes back to the drawn icon.
    pub fn remove_logo(&self) -> Result<(), LogoError> {
        Ok(self.store.set_blob(Setting::Logo, None)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::testing::station;

    const BACKGROUND: [u8; 3] = [255, 253, 248];

    fn encoded(picture: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 3] {
        image::load_from_memory(png)
            .unwrap()
            .to_rgb8()
            .get_pixel(x, y)
            .0
    }

    #[test]
    fn a_wide_photo_becomes_its_centre_square_at_1400_px() {
        // Red | blue | red thirds: the centre square is all blue.
        let photo = RgbImage::from_fn(900, 300, |x, _| {
            if (300..600).contains(&x) {
                image::Rgb([0, 0, 255])
            } else {
                image::Rgb([255, 0, 0])
            }
        });
        let jpeg = encoded(DynamicImage::ImageRgb8(photo), ImageFormat::Jpeg);
        let logo = prepare(&jpeg, BACKGROUND).unwrap();
        let read = image::load_from_memory_with_format(&logo, ImageFormat::Png).unwrap();
        assert_eq!((read.width(), read.height()), (SIDE, SIDE));
        let [r, _, b] = pixel(&logo, 700, 700);
        assert!(b > 200 && r < 50, "centre is {r},{b}");
        let [r, _, b] = pixel(&logo, 5, 700);
        assert!(
            b > 200 && r < 50,
            "edge is {r},{b}: the red thirds were kept"
        );
    }

    #[test]
    fn transparency_is_laid_on_the_background_and_maskable_icons_keep_a_margin() {
        let clear = image::RgbaImage::from_pixel(400, 400, image::Rgba([0, 0, 0, 0]));
        let png_in = encoded(DynamicImage::ImageRgba8(clear), ImageFormat::Png);
        let logo = prepare(&png_in, BACKGROUND).unwrap();
        assert_eq!(pixel(&logo, 10, 10), BACKGROUND);
        let green = image::RgbImage::from_pixel(400, 400, image::Rgb([0, 200, 0]));
        let logo = prepare(
            &encoded(DynamicImage::ImageRgb8(green), ImageFormat::Png),
            BACKGROUND,
        )
        .unwrap();
        let icon = scaled(&logo, 512, true, BACKGROUND).unwrap();
        assert_eq!(pixel(&icon, 5, 5), BACKGROUND, "no margin");
        assert_eq!(pixel(&icon, 256, 256), [0, 200, 0]);
        let icon = scaled(&logo, 192, false, BACKGROUND).unwrap();
        assert_eq!(pixel(&icon, 2, 2), [0, 200, 0], "a plain icon is all logo");
    }

    #[test]
    fn what_is_not_a_usable_picture_is_refused_with_its_reason() {
        assert!(matches!(
            prepare(b"<html>not a picture</html>", BACKGROUND),
            Err(LogoError::Unreadable)
        ));
        let tiny = RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3]));
        let tiny = encoded(DynamicImage::ImageRgb8(tiny), ImageFormat::Png);
        assert!(matches!(
            prepare(&tiny, BACKGROUND),
            Err(LogoError::TooSmall {
                width: 64,
                height: 64
            })
        ));
        // A PNG whose header claims 20 000 px a side is refused before any decoding.
        let mut huge = tiny.clone();
        huge[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        assert!(matches!(
            prepare(&huge, BACKGROUND),
            Err(LogoError::TooLarge { .. }) | Err(LogoError::Unreadable)
        ));
        // A cut-off PNG (a cut-off JPEG decodes, grey where it ends, as browsers show it).
        let noise = RgbImage::from_fn(400, 400, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let png_in = encoded(DynamicImage::ImageRgb8(noise), ImageFormat::Png);
        assert!(matches!(
            prepare(&png_in[..png_in.len() / 3], BACKGROUND),
            Err(LogoError::Unreadable)
        ));
    }

    #[test]
    fn the_logo_is_kept_and_removed() {
        let (_dir, station) = station();
        assert!(station.logo().is_none());
        station.save_logo(b"png bytes").unwrap();
        assert_eq!(station.logo().as_deref(), Some(&b"png bytes"[..]));
        station.remove_logo().unwrap();
        assert!(station.logo().is_none());
    }
}
