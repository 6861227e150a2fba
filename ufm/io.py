"""Results folders written atomically (they appear complete or not at all), and strict JSON."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["check_output_dir", "write_results_dir", "write_json", "write_npz", "to_jsonable", "RESULT_FILES"]

RESULT_FILES = ("config.json", "results.json", "arrays.npz")


def check_output_dir(path: str | os.PathLike, force: bool) -> Path:
    """Refuse, before any work is done, an output path that cannot or should not be written."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"--out {str(out)!r} already exists and is not empty (use --force to replace it)")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out {str(out)!r} cannot be created: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {str(out)!r} cannot be created: {str(parent)!r} is not writable")
    return out


def write_results_dir(path: Path, writers: dict[str, Callable[[Path], None]], force: bool) -> None:
    """Write every file into a temporary sibling folder, then rename it into place.

    An interrupted run leaves at most a hidden ``.<name>.tmp*`` folder, never a half-written
    results folder; an existing folder is replaced only with ``force``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp", dir=path.parent))
    try:
        for name, write in writers.items():
            write(tmp / name)
        if path.exists():
            if not force and any(path.iterdir()):
                raise ValueError(f"--out {str(path)!r} appeared while solving; not overwritten")
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(obj) -> Callable[[Path], None]:
    """A writer for :func:`write_results_dir`: ``obj`` as strict, sorted, indented JSON."""

    def write(p: Path) -> None:
        p.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")

    return write


def write_npz(arrays: dict) -> Callable[[Path], None]:
    """A writer for :func:`write_results_dir`: ``arrays`` as an uncompressed ``.npz`` file."""
    import numpy as np

    def write(p: Path) -> None:
        with open(p, "wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez(f, **arrays)

    return write


def to_jsonable(obj):
    """Convert NumPy/JAX scalars and arrays inside ``obj`` to plain Python for ``json``.

    Non-finite floats, wherever they sit, become the strings ``"nan"``, ``"inf"`` or ``"-inf"``, so
    the output is strict JSON even after a failed solve.
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic,)):
        return to_jsonable(obj.item())
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return to_jsonable(np.asarray(obj).tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)  # "nan", "inf": strict JSON has no non-finite numbers
    return obj
