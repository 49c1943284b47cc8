"""Headless preview of the demo scene: a labelled contact sheet of lip moments, and a video with the speech.

Workbench is the engine (measured here, bpy 5.0.1, 2 busy cores, 480x270: two egg heads ~0.5-0.9 s a still,
~0.2 s a frame when writing a video, plus ~1-7 s of start-up, against Cycles CPU at 8 samples ~4 s a frame and
noisy and EEVEE ~110 s a frame in software GL; two ICT heads ~1-3 s a still, EEVEE at 8 samples 187 s a frame).
Workbench shows the ICT head's materials (or the egg head's lip colour of scene.paint_lips, with backface culling
so its open mouth is a dark hole onto the background).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy

from adamesh_blender.anim import compat
from adamesh_blender.rig_builders.head_mesh import lip_separation_mm

from .moments import CLOSED, Moment

LIP_COLOUR_ATTRIBUTE = "Demo skin and lips"  # the egg head's colours (scene.paint_lips)
TILE_SIZE = (480, 270)
VIDEO_SIZE = (480, 270)
LABEL_HEIGHT = 26
HEADER_HEIGHT = 30


@dataclass(frozen=True)
class Shot:
    moment: Moment
    frame: int
    seconds: float  # where the frame is in the speech
    lip_mm: dict[str, float]  # head name -> midline lip gap at that frame

    def label(self) -> str:
        gaps = " / ".join(f"{gap:.1f}" for gap in self.lip_mm.values())
        return f"{self.moment.phone.phone} at {self.seconds:.2f} s: {self.moment.kind} (gap {gaps} mm)"


def use_preview_settings(scene, size: tuple[int, int]) -> None:
    """Workbench with the heads' materials (the ICT head), or the egg head's lip colour attribute when present."""
    painted = any(obj.type == "MESH" and LIP_COLOUR_ATTRIBUTE in obj.data.color_attributes for obj in scene.objects)
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x, render.resolution_y = size
    render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"  # the skin and lip colours as given (AgX greys them)
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "VERTEX" if painted else "MATERIAL"
    # the egg's open mouth shows the dark background, not the inside of the head; the ICT head has a mouth inside
    # and single-sided lashes
    shading.show_backface_culling = painted
    shading.show_cavity = False
    shading.show_specular_highlight = True


def shots(scene, heads, moments: list[Moment], frame_start: float) -> list[Shot]:
    """Each moment at its clearest frame within the phone: where the heads' lips are closest (closed moments) or
    widest apart (open moments), measured on the evaluated meshes."""
    fps = scene.render.fps / scene.render.fps_base
    chosen = []
    for moment in moments:
        measured = []
        for frame in moment.frames(frame_start, fps):
            scene.frame_set(frame)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            measured.append((frame, {head.name: lip_separation_mm(head, depsgraph) for head in heads}))
        mean = [sum(gaps.values()) / len(gaps) for _, gaps in measured]
        best = mean.index(min(mean) if moment.kind == CLOSED else max(mean))
        frame, gaps = measured[best]
        chosen.append(Shot(moment, frame, (frame - frame_start) / fps, gaps))
    return chosen


def render_still(scene, frame: int, path: Path) -> Path:
    scene.frame_set(frame)
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return path


def contact_sheet(
    scene, shots_: list[Shot], captions: list[str], out: Path, columns: int = 3, tile_size: tuple[int, int] = TILE_SIZE
) -> Path:
    """Render each shot and lay them out in a grid, each labelled with its phone, time, kind and lip gaps;
    `captions` name the heads left to right."""
    from PIL import Image, ImageDraw, ImageFont

    use_preview_settings(scene, tile_size)
    width, height = tile_size
    columns = min(columns, len(shots_))
    rows = -(-len(shots_) // columns)
    sheet = Image.new("RGB", (columns * width, HEADER_HEIGHT + rows * (height + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    draw.text(
        (8, 6),
        "   |   ".join(captions) + "   (left to right; gaps in that order)",
        fill="black",
        font=ImageFont.load_default(size=17),
    )
    with tempfile.TemporaryDirectory(prefix="adamesh-demo-") as folder:
        for number, shot in enumerate(shots_):
            x, y = (number % columns) * width, HEADER_HEIGHT + (number // columns) * (height + LABEL_HEIGHT)
            tile = render_still(scene, shot.frame, Path(folder) / f"{number}.png")
            with Image.open(tile) as image:
                sheet.paste(image.convert("RGB"), (x, y + LABEL_HEIGHT))
            colour = (150, 20, 30) if shot.moment.kind == CLOSED else (170, 90, 0)
            draw.text((x + 6, y + 5), shot.label(), fill=colour, font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours, dithered: the smooth shading still reads and the file is ~40 % smaller (a README picture)
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(out, optimize=True)
    return out


def render_video(scene, out: Path) -> Path:
    """The whole scene range as H.264 with the sound strip's audio (AAC) in an MP4, at the scene's frame rate."""
    use_preview_settings(scene, VIDEO_SIZE)
    # one FXAA pass instead of 8 anti-aliasing samples: two ICT heads 0.29 s a frame against 0.96 s (bpy 5.0.1,
    # 2 busy cores), and at 480x270 the two look the same
    scene.display.render_aa = "FXAA"
    compat.use_video_output(scene.render.image_settings)
    ffmpeg = scene.render.ffmpeg
    ffmpeg.format, ffmpeg.codec, ffmpeg.audio_codec = "MPEG4", "H264", "AAC"
    ffmpeg.constant_rate_factor = "MEDIUM"
    ffmpeg.audio_channels = "MONO"
    scene.render.filepath = str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.render.render(animation=True)
    return out
