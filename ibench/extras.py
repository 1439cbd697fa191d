"""Optional dependencies: which pyproject extra holds which module, and one line when one is missing.

Commands call ``require(extra, what)`` before they import anything optional; it looks the modules
up without importing them (``importlib.util.find_spec``), so the check costs nothing and a plain
``pip install ibench`` gets ``error: ibench score needs the 'eval' extra (...): pip install
'ibench[eval]'`` instead of a ``ModuleNotFoundError`` traceback. Keep ``EXTRAS`` and pyproject's
``[project.optional-dependencies]`` in step (tests/test_extras.py checks both ways).
"""

from __future__ import annotations

import importlib.util

from ibench.errors import IbenchError

#: extra -> (import name, distribution name) of every module its commands import.
EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "eval": (("open_clip", "open_clip_torch"), ("timm", "timm"), ("cleanfid", "clean-fid"),
             ("torchmetrics", "torchmetrics"), ("torchvision", "torchvision"), ("lpips", "lpips")),
    "report": (("jinja2", "jinja2"),),
    "human": (("streamlit", "streamlit"), ("sqlalchemy", "SQLAlchemy"), ("krippendorff", "krippendorff")),
    "judge": (("openai", "openai"),),
    "api": (("openai", "openai"), ("google.genai", "google-genai"), ("tenacity", "tenacity")),
    "face": (("insightface", "insightface"), ("onnxruntime", "onnxruntime")),
    "quant": (("bitsandbytes", "bitsandbytes"), ("torchao", "torchao")),
}


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(extra: str) -> list[str]:
    """Distribution names of ``extra`` whose modules cannot be imported here."""
    return [dist for module, dist in EXTRAS[extra] if not _present(module)]


def require(extra: str, what: str, hint: str = "") -> None:
    """Raise one line naming the extra to install if any module of ``extra`` is missing."""
    lacking = missing(extra)
    if lacking:
        raise IbenchError(f"{what} needs the '{extra}' extra ({', '.join(lacking)} not installed): "
                          f"pip install 'ibench[{extra}]'{hint}")

