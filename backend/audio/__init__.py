"""Audio: decoding any audio or video file (decode.py), log-mel features on the 100 Hz grid (mel.py), audio time
<-> motion frames (frames.py), loudness and pitch per motion frame (prosody.py), phonetic features (phonetic.py).

No torch here, and librosa is imported on first use, so decoding alone starts fast.
"""
