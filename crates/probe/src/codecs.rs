//! Symphonia's codec ids in the names ffprobe prints, so metadata reads the same as the tools users know.

use symphonia::core::codecs::{audio::well_known as audio, video::well_known as video};
use symphonia::core::codecs::{audio::AudioCodecId, video::VideoCodecId};

pub fn audio_name(id: AudioCodecId) -> String {
    let name = match id {
        audio::CODEC_ID_AAC => "aac",
        audio::CODEC_ID_MP3 => "mp3",
        audio::CODEC_ID_MP2 => "mp2",
        audio::CODEC_ID_FLAC => "flac",
        audio::CODEC_ID_VORBIS => "vorbis",
        audio::CODEC_ID_OPUS => "opus",
        audio::CODEC_ID_ALAC => "alac",
        audio::CODEC_ID_AC3 => "ac3",
        audio::CODEC_ID_EAC3 => "eac3",
        audio::CODEC_ID_PCM_S16LE => "pcm_s16le",
        audio::CODEC_ID_PCM_S16BE => "pcm_s16be",
        audio::CODEC_ID_PCM_S24LE => "pcm_s24le",
        audio::CODEC_ID_PCM_S32LE => "pcm_s32le",
        audio::CODEC_ID_PCM_U8 => "pcm_u8",
        audio::CODEC_ID_PCM_F32LE => "pcm_f32le",
        audio::CODEC_ID_PCM_F64LE => "pcm_f64le",
        audio::CODEC_ID_PCM_ALAW => "pcm_alaw",
        audio::CODEC_ID_PCM_MULAW => "pcm_mulaw",
        other => return format!("audio-{other}"),
    };
    name.to_string()
}

pub fn video_name(id: VideoCodecId) -> String {
    let name = match id {
        video::CODEC_ID_H264 => "h264",
        video::CODEC_ID_HEVC => "hevc",
        video::CODEC_ID_VP8 => "vp8",
        video::CODEC_ID_VP9 => "vp9",
        video::CODEC_ID_AV1 => "av1",
        video::CODEC_ID_MPEG4 => "mpeg4",
        video::CODEC_ID_MPEG2 => "mpeg2video",
        video::CODEC_ID_MJPEG => "mjpeg",
        video::CODEC_ID_THEORA => "theora",
        other => return format!("video-{other}"),
    };
    name.to_string()
}
