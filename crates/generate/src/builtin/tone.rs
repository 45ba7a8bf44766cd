//! `local-tone`: a test tone or deterministic noise as 16-bit mono WAV.

use std::io::Cursor;

use async_trait::async_trait;
use bytes::Bytes;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{Map, Value};

use crate::{
    inputs::{self, Default, Input, InputKind},
    GenerateError, Generator, Output,
};

const SAMPLE_RATE: u32 = 44_100;

const INPUTS: &[Input] = &[
    Input::with_default(
        "duration",
        InputKind::Number {
            min: 0.1,
            max: 300.0,
        },
        Default::Number(3.0),
    ),
    Input::with_default(
        "frequency",
        InputKind::Number {
            min: 20.0,
            max: 20_000.0,
        },
        Default::Number(440.0),
    ),
    Input::with_default(
        "waveform",
        InputKind::Choice(&["sine", "square", "noise"]),
        Default::Text("sine"),
    ),
];

pub struct LocalTone;

#[async_trait]
impl Generator for LocalTone {
    fn inputs(&self) -> &[Input] {
        INPUTS
    }

    fn local(&self) -> bool {
        true
    }

    fn description(&self) -> String {
        "Built in, not an AI model: a sine or square tone, or noise, as 44.1 kHz mono WAV".into()
    }

    async fn available(&self) -> bool {
        true
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let duration = inputs::number(inputs, "duration").unwrap_or(3.0);
        let frequency = inputs::number(inputs, "frequency").unwrap_or(440.0);
        let waveform = inputs::text(inputs, "waveform")
            .unwrap_or("sine")
            .to_string();
        let wav = super::blocking(move || synthesise(duration, frequency, &waveform)).await?;
        out.write(Bytes::from(wav)).await
    }
}

fn synthesise(duration: f64, frequency: f64, waveform: &str) -> Result<Vec<u8>, GenerateError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let failed = |e: hound::Error| GenerateError::Failed(format!("writing the WAV failed: {e}"));
    let mut buf = Cursor::new(Vec::new());
    let mut wav = hound::WavWriter::new(&mut buf, spec).map_err(failed)?;
    let samples = (duration * SAMPLE_RATE as f64).round() as u64;
    let mut noise = StdRng::seed_from_u64(0x6d65_6469_6164_7276);
    let amplitude = 0.5 * i16::MAX as f64;
    for n in 0..samples {
        let phase = (n as f64 * frequency / SAMPLE_RATE as f64).fract();
        let value = match waveform {
            "square" => {
                if phase < 0.5 {
                    1.0
                } else {
                    -1.0
                }
            }
            "noise" => noise.gen_range(-1.0..1.0),
            _ => (phase * std::f64::consts::TAU).sin(),
        };
        wav.write_sample((value * amplitude) as i16)
            .map_err(failed)?;
    }
    wav.finalize().map_err(failed)?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_follows_the_duration() {
        let wav = synthesise(0.5, 440.0, "sine").unwrap();
        assert_eq!(wav.len(), 44 + 2 * SAMPLE_RATE as usize / 2);
        assert_eq!(
            synthesise(0.5, 440.0, "noise").unwrap(),
            synthesise(0.5, 440.0, "noise").unwrap()
        );
    }
}
