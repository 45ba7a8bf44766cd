//! `local-image`: renders the prompt as text onto a background generated from it (a gradient and
//! soft discs whose colours come from the prompt's hash). Deterministic: one prompt, one image.

use std::io::Cursor;

use async_trait::async_trait;
use bytes::Bytes;
use font8x8::UnicodeFonts;
use image::{codecs::webp::WebPEncoder, ExtendedColorType, Rgb, RgbImage};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{Map, Value};

use crate::{
    inputs::{self, Default, Input, InputKind, MAX_TEXT},
    GenerateError, Generator, Output,
};

const INPUTS: &[Input] = &[
    Input::required(
        "prompt",
        InputKind::Text {
            max_chars: MAX_TEXT,
        },
    ),
    Input::with_default(
        "width",
        InputKind::Integer { min: 64, max: 2048 },
        Default::Integer(1024),
    ),
    Input::with_default(
        "height",
        InputKind::Integer { min: 64, max: 2048 },
        Default::Integer(1024),
    ),
];

pub struct LocalImage;

#[async_trait]
impl Generator for LocalImage {
    fn inputs(&self) -> &[Input] {
        INPUTS
    }

    fn local(&self) -> bool {
        true
    }

    fn description(&self) -> String {
        "Built in, not an AI model: the prompt rendered as text on a background derived from it (WebP)".into()
    }

    async fn available(&self) -> bool {
        true
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let prompt = inputs::text(inputs, "prompt")
            .unwrap_or_default()
            .to_string();
        let width = inputs::integer(inputs, "width").unwrap_or(1024) as u32;
        let height = inputs::integer(inputs, "height").unwrap_or(1024) as u32;
        let webp = super::blocking(move || encode(&render(&prompt, width, height))).await?;
        out.write(Bytes::from(webp)).await
    }
}

fn render(prompt: &str, width: u32, height: u32) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(super::seed(prompt));
    let from: [f32; 3] = [rng.gen(), rng.gen(), rng.gen()].map(|c: f32| 40.0 + c * 150.0);
    let to: [f32; 3] = [rng.gen(), rng.gen(), rng.gen()].map(|c: f32| 40.0 + c * 150.0);
    let mut img = RgbImage::from_fn(width, height, |x, y| {
        let t = (x + y) as f32 / (width + height) as f32;
        Rgb(std::array::from_fn(|i| {
            (from[i] + (to[i] - from[i]) * t) as u8
        }))
    });
    for _ in 0..6 {
        let (cx, cy) = (
            rng.gen_range(0..width) as f32,
            rng.gen_range(0..height) as f32,
        );
        let r = rng.gen_range(width.min(height) / 10..=width.min(height) / 3) as f32;
        let tint: [f32; 3] = [rng.gen(), rng.gen(), rng.gen()].map(|c: f32| c * 255.0);
        for (x, y, px) in img.enumerate_pixels_mut() {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d < r {
                let a = 0.35 * (1.0 - d / r);
                for i in 0..3 {
                    px[i] = (px[i] as f32 * (1.0 - a) + tint[i] * a) as u8;
                }
            }
        }
    }
    draw_text(&mut img, prompt);
    img
}

/// Word-wrapped 8×8 bitmap text, scaled to the image, with a shadow so it reads on any background.
fn draw_text(img: &mut RgbImage, text: &str) {
    let (width, height) = img.dimensions();
    let scale = (width / (8 * 32)).max(1);
    let glyph = 8 * scale;
    let columns = ((width - 2 * glyph) / glyph).max(1) as usize;
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= columns => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.extend(
                word.chars()
                    .collect::<Vec<_>>()
                    .chunks(columns)
                    .map(|c| c.iter().collect::<String>()),
            ),
        }
    }
    let line_height = glyph + glyph / 2;
    let max_lines = ((height - 2 * glyph) / line_height).max(1) as usize;
    lines.truncate(max_lines);
    let top = (height.saturating_sub(lines.len() as u32 * line_height)) / 2;
    for (row, line) in lines.iter().enumerate() {
        let left = (width.saturating_sub(line.chars().count() as u32 * glyph)) / 2;
        let y0 = top + row as u32 * line_height;
        for (col, c) in line.chars().enumerate() {
            let bitmap = font8x8::BASIC_FONTS
                .get(c)
                .or_else(|| font8x8::LATIN_FONTS.get(c))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            let x0 = left + col as u32 * glyph;
            for (gy, bits) in bitmap.iter().enumerate() {
                for gx in 0..8 {
                    if bits >> gx & 1 == 1 {
                        for (dx, dy, color) in
                            [(1, 1, Rgb([20, 20, 20])), (0, 0, Rgb([255, 255, 255]))]
                        {
                            for sy in 0..scale {
                                for sx in 0..scale {
                                    let x = x0 + gx * scale + sx + dx * (scale / 2).max(1);
                                    let y = y0 + gy as u32 * scale + sy + dy * (scale / 2).max(1);
                                    if x < width && y < height {
                                        img.put_pixel(x, y, color);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn encode(img: &RgbImage) -> Result<Vec<u8>, GenerateError> {
    let mut buf = Cursor::new(Vec::new());
    WebPEncoder::new_lossless(&mut buf)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| GenerateError::Failed(format!("encoding the image failed: {e}")))?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prompt_one_image() {
        let a = encode(&render("a paper plane", 128, 96)).unwrap();
        let b = encode(&render("a paper plane", 128, 96)).unwrap();
        let c = encode(&render("a paper boat", 128, 96)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(&a[..4], b"RIFF");
        assert_eq!(&a[8..12], b"WEBP");
    }
}
