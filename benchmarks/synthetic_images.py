"""Random images with the statistics of photographs, for calibration and agreement checks.

Uniform noise is a poor calibration set: every pixel is independent, so the first convolutions see
no edges, no smooth regions and no saturated colors, and the activation ranges an INT8 converter
measures on it are not the ranges real pictures produce. These images are drawn from the two
classic models of natural-image statistics instead:
- a 1/f amplitude spectrum (power falling as 1/f^2, as measured on photographs) for texture and
  shading, with color channels that share most of their luminance;
- a dead-leaves model on top: opaque disks whose radii follow a power law (many small, few large),
  each with its own color, so that there are occlusion edges at every scale.
Then a lighting gradient, a random exposure, a display gamma, sensor noise and 8-bit rounding, and
finally Keras' MobileNetV2 preprocessing (pixels / 127.5 - 1, NHWC).

Nothing here is a real photograph: top-1 classes of a randomly initialized network mean nothing;
what matters is that every engine sees the same realistic pixel statistics.
"""
from __future__ import annotations

import numpy as np

# Amplitude spectrum ~ 1 / f^SPECTRAL_SLOPE (about 1 for photographs).
SPECTRAL_SLOPE = 1.0
TEXTURE_CONTRAST = 0.35  # std of log intensity of the 1/f texture
CHROMA_WEIGHT = 0.3  # color variation relative to the shared luminance field
COLOR_SPREAD = 0.12  # std of a surface's channels around its gray level (display space)
LEAVES_PER_IMAGE = (40, 160)
LEAF_RADIUS = (3.0, 150.0)  # pixels; radii are drawn with density ~ r^-3 between these
SENSOR_NOISE = 2.0  # standard deviation in 8-bit pixel levels
GAMMA = 2.2
# Independent streams of images from one seed, one per use, so that no image serves two purposes.
STREAMS = {"calibration": 0, "evaluation": 1}


def natural_images(n: int, seed: int, stream: str, hw: int = 224) -> np.ndarray:
    """n images of hw x hw x 3, float32 in [-1, 1] (MobileNetV2 preprocessing), NHWC, drawn from
    seed and the named stream (a key of STREAMS)."""
    rng = np.random.default_rng([seed, STREAMS[stream]])
    return np.stack([_one_image(rng, hw) for _ in range(n)]).astype(np.float32)


def _pink_noise(rng: np.random.Generator, hw: int, channels: int) -> np.ndarray:
    """Gaussian fields with a 1/f amplitude spectrum, each normalized to zero mean, unit std."""
    fy = np.fft.fftfreq(hw)[:, None]
    fx = np.fft.rfftfreq(hw)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0  # the mean is removed below; this only avoids dividing by zero
    amplitude = f ** -SPECTRAL_SLOPE
    spectrum = rng.normal(size=(channels,) + f.shape) + 1j * rng.normal(size=(channels,) + f.shape)
    fields = np.fft.irfft2(spectrum * amplitude, s=(hw, hw))
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    return fields / fields.std(axis=(1, 2), keepdims=True)


def _display_color(rng: np.random.Generator) -> np.ndarray:
    """A muted color: a gray level plus a little chroma, drawn in display space, returned linear."""
    color = rng.uniform(0.1, 0.9) + rng.normal(0.0, COLOR_SPREAD, 3)
    return np.clip(color, 0.0, 1.0) ** GAMMA


def _textured_colors(rng: np.random.Generator, hw: int) -> np.ndarray:
    """A 1/f color texture in linear light, shape (hw, hw, 3).

    Intensities are log-normal (reflectance times illumination multiply), the three channels share
    the luminance field and differ by a weaker chroma field each."""
    luma, *chroma = _pink_noise(rng, hw, 4)
    log_rgb = np.stack([TEXTURE_CONTRAST * (luma + CHROMA_WEIGHT * c) for c in chroma], axis=-1)
    return _display_color(rng) * np.exp(log_rgb)


def _leaf_radii(rng: np.random.Generator, count: int) -> np.ndarray:
    """Radii with density ~ r^-3 on LEAF_RADIUS (inverse-CDF sampling)."""
    lo, hi = LEAF_RADIUS
    u = rng.uniform(size=count)
    return 1.0 / np.sqrt(lo ** -2 - u * (lo ** -2 - hi ** -2))


def _one_image(rng: np.random.Generator, hw: int) -> np.ndarray:
    """One preprocessed image, float64 (hw, hw, 3) in [-1, 1]."""
    image = _textured_colors(rng, hw)
    yy, xx = np.mgrid[0:hw, 0:hw].astype(np.float32)
    count = int(rng.integers(*LEAVES_PER_IMAGE))
    grain = _pink_noise(rng, hw, 1)[0]  # surface texture, shared by the leaves at random strengths
    # Painted back to front: later leaves occlude earlier ones, as in the dead-leaves model.
    for r in _leaf_radii(rng, count):
        cy, cx = rng.uniform(-0.1 * hw, 1.1 * hw, 2)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        shade = np.exp(rng.uniform(0.0, TEXTURE_CONTRAST) * grain[inside])
        image[inside] = _display_color(rng) * shade[:, None]
    # Light falling off across the scene, then exposure and the display gamma of 8-bit pictures.
    gy, gx = rng.normal(0.0, 0.3, 2)
    light = 1.0 + (gy * (yy / hw - 0.5) + gx * (xx / hw - 0.5))
    linear = np.clip(image * light[..., None] * rng.uniform(0.8, 1.6), 0.0, 1.0)
    pixels = 255.0 * linear ** (1.0 / GAMMA) + rng.normal(0.0, SENSOR_NOISE, linear.shape)
    pixels = np.clip(np.rint(pixels), 0.0, 255.0)
    return pixels / 127.5 - 1.0
