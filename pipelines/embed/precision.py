"""The precision the embedding backend runs at: what the CPU offers, unless a setting forces one.

bf16 pays only where the CPU computes it natively (AVX-512 BF16 or AMX): there OpenVINO's bf16
inference ran about twice as fast as fp32 `SentenceTransformer.encode`; elsewhere OpenVINO quietly
runs f32 when asked for bf16, and torch emulates it several times slower. So `auto` (the default)
takes bf16 only on such a CPU, and the backend then checks the choice against fp32 (cosine >=
MIN_AGREEMENT on the export probe) before it is trusted: see `bundled_embedder`.

A reduced precision is recorded in the model id (`all-MiniLM-L6-v2@bf16`), so a run says which
precision it used; such an embedder reuses the fp32 cache only when its check passed
(`shares_cache_with`), and fp32 never reads bf16 vectors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.errors import input_error

SETTING = "CROSSWALK_PRECISION"
CHOICES = ("auto", "f32", "bf16")
ALIASES = {"fp32": "f32"}  # the name the setting had before `auto`
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")
MIN_AGREEMENT = 0.999  # a faster backend is used only if it agrees with fp32 torch this well
# The export's check, and the check of a reduced precision against fp32.
PROBE = [
    "Recovery is a deeply personal, unique process of changing one's attitudes and roles.",
    "Desistance.",
    "Harm reduction meets people where they are, without requiring abstinence first, and "
    "treats any positive change as a step; housing first offers a home without conditions.",
]
# The flags worth naming in a report: what decides bf16, and the vector units below it.
REPORTED = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags from the first `flags` line of /proc/cpuinfo (empty where that
    file does not exist, as on macOS: no native bf16 is then assumed)."""
    if not cpuinfo.is_file():
        return frozenset()
    for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def reported_flags(flags: frozenset[str]) -> str:
    """The vector flags present, in a fixed order, for messages and benchmark tables."""
    return " ".join(f for f in REPORTED if f in flags) or "none of " + " ".join(REPORTED)


def requested(value: str | None = None) -> str:
    """The precision asked for (argument, else CROSSWALK_PRECISION, else auto), normalised."""
    chosen = (value or os.environ.get(SETTING) or "auto").strip().lower()
    chosen = ALIASES.get(chosen, chosen)
    if chosen not in CHOICES:
        raise input_error(
            "E025", None, what="precision", value=chosen, known=", ".join(CHOICES) + " (or fp32)"
        )
    return chosen


@dataclass(frozen=True)
class Choice:
    precision: str  # "f32" or "bf16"
    forced: bool
    reason: str


def choose(asked: str, flags: frozenset[str]) -> Choice:
    """bf16 where the CPU has it natively and nothing forces f32; f32 otherwise."""
    native = [f for f in NATIVE_BF16 if f in flags]
    if asked == "f32":
        return Choice("f32", True, f"{SETTING}=f32")
    if asked == "bf16":
        where = f"native: {' '.join(native)}" if native else "the CPU has no native bf16"
        return Choice("bf16", True, f"{SETTING}=bf16 ({where})")
    if native:
        return Choice("bf16", False, f"auto: the CPU has {' '.join(native)}")
    return Choice("f32", False, f"auto: no native bf16 (CPU flags: {reported_flags(flags)})")


def model_id_for(base: str, precision: str) -> str:
    """The id embeddings are cached and a run recorded under: the base id for f32."""
    return base if precision == "f32" else f"{base}@{precision}"


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest row-wise cosine between two embedding matrices."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float((a * b).sum(axis=1).min())
