"""Decoding real files of every supported kind, written here with PyAV (FFmpeg's real encoders and muxers)."""

from __future__ import annotations

import logging
import tracemalloc
import wave as stdlib_wave
from pathlib import Path

import numpy as np
import pytest

from backend.audio.decode import TRUNCATED_MIN_SECONDS, audio_duration, decode_audio, load_audio
from backend.core.errors import AudioError
from tests.media import tone, write_media, write_silent_video

SR = 16000


def tone_amplitude(wave: np.ndarray, freq: float, rate: int = SR) -> float:
    """Amplitude of the `freq` component (least squares over the middle of the wave, away from edge effects)."""
    middle = slice(len(wave) // 4, 3 * len(wave) // 4)
    t = np.arange(len(wave))[middle] / rate
    basis = np.stack([np.cos(2 * np.pi * freq * t), np.sin(2 * np.pi * freq * t)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, wave[middle].astype(np.float64), rcond=None)
    return float(np.hypot(*coefficients))


def dominant_frequency(wave: np.ndarray, rate: int = SR) -> float:
    """Peak of the Hann-windowed, 8x zero-padded spectrum, refined by a parabola through the log magnitudes."""
    size = 8 * len(wave)
    magnitude = np.log(np.abs(np.fft.rfft(wave * np.hanning(len(wave)), size)) + 1e-12)
    peak = int(np.argmax(magnitude))
    left, centre, right = magnitude[peak - 1 : peak + 2]
    return (peak + 0.5 * (left - right) / (left - 2 * centre + right)) * rate / size


def onset_seconds(wave: np.ndarray, amplitude: float, rate: int = SR) -> float:
    """First instant the wave reaches half of `amplitude`."""
    return int(np.argmax(np.abs(wave) >= 0.5 * amplitude)) / rate


# --- formats -------------------------------------------------------------------------------------------------

# AAC and FFmpeg's Vorbis encoder pad the end (up to 1024 source samples); LAME scales its input by 0.95
# (measured with the ffmpeg command line too): the decoder must not be blamed for either.
CODEC_END_PADDING = {"aac": 1024, "vorbis": 1024}
CODEC_GAIN = {"libmp3lame": 0.95}
FORMATS = [
    ("speech.wav", "pcm_s16le", 44100, {}),
    ("float.wav", "pcm_f32le", 44100, {}),
    ("speech.flac", "flac", 44100, {}),
    ("vorbis.ogg", "vorbis", 44100, {"codec_options": {"strict": "experimental"}}),
    ("opus.ogg", "libopus", 48000, {}),
    ("speech.mp3", "libmp3lame", 44100, {}),
    ("speech.m4a", "aac", 44100, {}),
    ("clip.mp4", "aac", 44100, {"video": True}),
    ("clip.mov", "aac", 44100, {"video": True}),
    ("clip.mkv", "aac", 44100, {"video": True}),
]


@pytest.mark.parametrize(("name", "codec", "rate", "options"), FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_decodes_to_mono_16k_with_pitch_and_timing_intact(tmp_path, name, codec, rate, options):
    onset = 0.5
    wave = tone(440.0, 2.0, rate, amplitude=0.5, onset=onset)
    path = write_media(tmp_path / name, np.stack([wave, wave]), rate, codec, **options)

    decoded = decode_audio(path)
    audio = decoded.samples

    assert audio.dtype == np.float32 and audio.ndim == 1
    assert decoded.sample_rate == SR and decoded.source_sample_rate == rate and decoded.source_channels == 2
    assert decoded.truncation is None
    # AAC pads its last frame (< 1024 source samples); every other codec ends exactly.
    assert 2.0 - 1 / SR <= decoded.duration <= 2.0 + 1 / SR + CODEC_END_PADDING.get(codec, 0) / rate
    assert abs(dominant_frequency(audio[SR:]) - 440.0) < 0.1
    assert tone_amplitude(audio[SR:], 440.0) == pytest.approx(0.5 * CODEC_GAIN.get(codec, 1.0), rel=0.02)
    # Codec priming is removed: the onset is where it was written (to a millisecond, lossy codecs included).
    assert abs(onset_seconds(audio, 0.5) - onset) < 1e-3
    assert float(np.abs(audio).max()) <= 1.0


def test_sixteen_bit_wav_is_exact_at_the_feature_rate(tmp_path):
    wave = tone(1000.0, 1.0, SR, amplitude=0.7)
    path = write_media(tmp_path / "native.wav", wave, SR, "pcm_s16le")
    audio = load_audio(path)
    np.testing.assert_allclose(audio, np.round(wave * 32767) / 32768, atol=1e-7)


def test_stereo_44k_is_averaged_and_resampled_to_the_right_length(tmp_path):
    left = tone(440.0, 2.0, 44100, amplitude=0.6)
    right = tone(1000.0, 2.0, 44100, amplitude=0.2)
    path = write_media(tmp_path / "stereo.wav", np.stack([left, right]), 44100, "pcm_s16le")

    audio = load_audio(path)

    assert abs(len(audio) - 2.0 * SR) <= 1
    assert tone_amplitude(audio, 440.0) == pytest.approx(0.3, rel=0.01)
    assert tone_amplitude(audio, 1000.0) == pytest.approx(0.1, rel=0.01)
    assert abs(dominant_frequency(audio) - 440.0) < 0.05


@pytest.mark.parametrize("rate", [8000, 96000])
def test_low_and_high_source_rates_keep_frequency_and_length(tmp_path, rate):
    wave = tone(1000.0, 1.5, rate, amplitude=0.4)
    if rate > 2 * SR:  # 12 kHz cannot exist at 16 kHz: it must be filtered out, not folded back to 4 kHz
        wave = wave + tone(12000.0, 1.5, rate, amplitude=0.4)
    audio = load_audio(write_media(tmp_path / f"tone_{rate}.wav", wave, rate, "pcm_s16le"))

    assert abs(len(audio) - 1.5 * SR) <= 1
    assert abs(dominant_frequency(audio) - 1000.0) < 0.05
    assert tone_amplitude(audio, 1000.0) == pytest.approx(0.4, rel=0.01)
    assert tone_amplitude(audio, 4000.0) < 1e-4


def test_six_channel_downmix_averages_the_speakers_and_leaves_out_the_subwoofer(tmp_path):
    silence = np.zeros(round(1.5 * 48000))
    front_centre = tone(700.0, 1.5, 48000, amplitude=0.5)
    rumble = tone(50.0, 1.5, 48000, amplitude=0.9)
    # 5.1 order: FL, FR, FC, LFE, BL, BR
    channels = np.stack([silence, silence, front_centre, rumble, silence, silence])
    decoded = decode_audio(write_media(tmp_path / "surround.wav", channels, 48000, "pcm_s16le"))

    assert decoded.source_channels == 6
    assert tone_amplitude(decoded.samples, 700.0) == pytest.approx(0.5 / 5, rel=0.01)
    assert tone_amplitude(decoded.samples, 50.0) < 1e-4


def test_float_wav_above_full_scale_is_scaled_not_clipped(tmp_path):
    wave = tone(500.0, 1.0, SR, amplitude=2.0)
    audio = load_audio(write_media(tmp_path / "hot.wav", wave, SR, "pcm_f32le"))
    assert float(np.abs(audio).max()) == pytest.approx(1.0)
    np.testing.assert_allclose(audio, wave / 2.0, atol=1e-6)  # shape intact: no clipping


def test_unicode_path_with_spaces(tmp_path):
    folder = tmp_path / "prise de son été"
    folder.mkdir()
    path = write_media(folder / "Stimme 声音 take 1.flac", tone(300.0, 1.0, SR), SR, "flac")
    assert len(load_audio(path)) == SR
    assert audio_duration(path) == 1.0


def test_silence_is_returned_not_refused(tmp_path):
    audio = load_audio(write_media(tmp_path / "silence.wav", np.zeros(SR), SR, "pcm_s16le"))
    assert len(audio) == SR and not audio.any()


@pytest.mark.parametrize(
    ("name", "codec", "rate"), [("a.wav", "pcm_s16le", 44100), ("a.mp3", "libmp3lame", 22050), ("a.mp4", "aac", 48000)]
)
def test_audio_duration_agrees_with_the_decoded_length(tmp_path, name, codec, rate):
    path = write_media(tmp_path / name, tone(250.0, 1.3, rate), rate, codec)
    assert audio_duration(path) == pytest.approx(len(load_audio(path)) / SR, abs=1 / SR)


def test_decoding_holds_no_copy_at_the_source_rate(tmp_path):
    # 60 s of 44.1 kHz stereo is 21 MB as float32; the 16 kHz mono result is 3.8 MB.
    rng = np.random.default_rng(0)
    noise = rng.uniform(-0.5, 0.5, size=(2, 60 * 44100))
    path = write_media(tmp_path / "minute.wav", noise, 44100, "pcm_s16le")

    tracemalloc.start()
    try:
        audio = load_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(audio) == 60 * SR
    assert peak < 1.1 * audio.nbytes + 1_000_000


# --- refused files ---------------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "take 3.wav"
    with pytest.raises(AudioError, match="not found") as caught:
        load_audio(path)
    assert str(path) in str(caught.value)


def test_folder_is_refused(tmp_path):
    with pytest.raises(AudioError, match="folder"):
        load_audio(tmp_path)


def test_text_file_named_wav_is_refused_as_not_media(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("This is a shopping list, not a recording.\n" * 40)
    with pytest.raises(AudioError, match="does not recognise it as an audio or video file") as caught:
        load_audio(path)
    assert "notes.wav" in str(caught.value)


def test_video_without_sound_is_refused(tmp_path):
    path = write_silent_video(tmp_path / "silent_film.mp4")
    with pytest.raises(AudioError, match=r"has no audio track \(it holds: video \(mpeg4\)\)") as caught:
        load_audio(path)
    assert "silent_film.mp4" in str(caught.value)
    with pytest.raises(AudioError, match="no audio track"):
        audio_duration(path)


def test_audio_track_without_samples_is_refused(tmp_path):
    path = tmp_path / "empty.wav"
    with stdlib_wave.open(str(path), "wb") as header_only:  # FFmpeg writes no file without packets; the stdlib does
        header_only.setnchannels(1)
        header_only.setsampwidth(2)
        header_only.setframerate(SR)
    with pytest.raises(AudioError, match=r"holds no sound \(0 samples\)"):
        load_audio(path)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nan_or_infinite_samples_are_refused(tmp_path, bad_value):
    wave = tone(300.0, 1.0, SR)
    wave[12345] = bad_value
    path = write_media(tmp_path / "broken.wav", wave, SR, "pcm_f32le")
    with pytest.raises(AudioError, match="NaN or infinity") as caught:
        load_audio(path)
    assert "broken.wav" in str(caught.value)


# --- truncated files -------------------------------------------------------------------------------------------


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    cut = path.with_name("cut_" + path.name)
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


def test_truncated_wav_gives_what_is_there_and_says_so(tmp_path, caplog):
    wave = tone(300.0, 3.0, SR)
    whole = write_media(tmp_path / "long.wav", wave, SR, "pcm_s16le")
    cut = _cut(whole, 0.6)

    with caplog.at_level(logging.WARNING, logger="backend.audio.decode"):
        decoded = decode_audio(cut)

    assert decoded.truncation is not None and "header declares 3.00 s" in decoded.truncation
    assert "cut_long.wav" in caplog.text and "truncated" in caplog.text
    assert 1.7 < decoded.duration < 1.9
    np.testing.assert_array_equal(decoded.samples, load_audio(whole)[: len(decoded.samples)])


def test_truncated_wav_with_too_little_left_is_refused(tmp_path):
    cut = _cut(write_media(tmp_path / "long.wav", tone(300.0, 3.0, SR), SR, "pcm_s16le"), 0.2)
    with pytest.raises(AudioError, match="truncated or damaged") as caught:
        load_audio(cut)
    assert "cut_long.wav" in str(caught.value) and f"{TRUNCATED_MIN_SECONDS:.0f} s" in str(caught.value)


@pytest.mark.parametrize(("name", "codec"), [("long.flac", "flac"), ("long.mp3", "libmp3lame")])
def test_truncated_compressed_file_gives_its_decodable_start(tmp_path, name, codec):
    wave = tone(300.0, 4.0, 44100)
    whole = write_media(tmp_path / name, wave, 44100, codec)
    decoded = decode_audio(_cut(whole, 0.6))
    assert decoded.truncation is not None
    assert 1.5 < decoded.duration < 3.0
    reference = load_audio(whole)[: len(decoded.samples)]
    np.testing.assert_allclose(decoded.samples[:16000], reference[:16000], atol=1e-3)


def test_truncated_mp4_is_refused_as_incomplete(tmp_path):
    # An MP4 writes its index last: cut short, nothing in it can be located.
    cut = _cut(write_media(tmp_path / "take.mp4", tone(300.0, 3.0, 44100), 44100, "aac", video=True), 0.7)
    with pytest.raises(AudioError, match="damaged or incomplete") as caught:
        load_audio(cut)
    assert "cut_take.mp4" in str(caught.value)
