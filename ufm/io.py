"""Results folders written atomically (they appear complete or not at all), and strict JSON."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = [
    "staged_dir",
    "check_output_dir",
    "write_results_dir",
    "write_json",
    "write_npz",
    "BlockArray",
    "to_jsonable",
    "RESULT_FILES",
]

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


@contextlib.contextmanager
def staged_dir(path: str | os.PathLike, force: bool = True) -> Iterator[Path]:
    """A temporary sibling folder to write into; renamed into place when the block ends normally.

    An interrupted run leaves at most a hidden ``.<name>.tmp*`` folder, never a half-written
    results folder. An existing folder is replaced, unless ``force`` is false and it is not empty.
    """
    path = Path(path)
    parent = path.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp", dir=parent))
    try:
        yield tmp
        if path.exists():
            if not force and any(path.iterdir()):
                raise ValueError(f"--out {str(path)!r} appeared while solving; not overwritten")
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old", dir=parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_results_dir(path: Path, writers: dict[str, Callable[[Path], None]], force: bool) -> None:
    """Write every file into a temporary sibling folder, then rename it into place
    (:func:`staged_dir`); an existing folder is replaced only with ``force``."""
    with staged_dir(path, force=force) as tmp:
        for name, write in writers.items():
            write(tmp / name)


def write_json(obj) -> Callable[[Path], None]:
    """A writer for :func:`write_results_dir`: ``obj`` as strict, sorted, indented JSON."""

    def write(p: Path) -> None:
        p.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")

    return write


@dataclasses.dataclass(frozen=True)
class BlockArray:
    """An array that :func:`write_npz` writes block by block, so it is never held whole.

    Attributes:
        shape: its shape.
        dtype: its dtype (a NumPy dtype or a name such as ``"float64"``).
        blocks: a function returning an iterable of consecutive pieces of the array in C order
            (each of any shape; together they hold exactly its elements).
    """

    shape: tuple[int, ...]
    dtype: object
    blocks: Callable[[], Iterable]


def write_npz(arrays: dict) -> Callable[[Path], None]:
    """A writer for :func:`write_results_dir`: ``arrays`` as an uncompressed ``.npz`` file that
    ``numpy.load`` reads. Values are arrays, or :class:`BlockArray` objects streamed block by
    block; ordinary arrays are written in bounded chunks too, so writing adds no features-sized
    temporary."""
    import numpy as np

    def write(p: Path) -> None:
        with zipfile.ZipFile(p, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, value in arrays.items():
                with archive.open(f"{name}.npy", mode="w", force_zip64=True) as f:
                    if isinstance(value, BlockArray):
                        _write_blocks(f, value, np)
                    else:
                        np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)

    return write


def _write_blocks(f, array: BlockArray, np) -> None:
    """The ``.npy`` header of ``array``, then its blocks in order (checked to fill it exactly)."""
    dtype = np.dtype(array.dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(array.shape)}
    np.lib.format.write_array_header_1_0(f, header)
    size, written = int(np.prod(array.shape)), 0
    for block in array.blocks():
        block = np.ascontiguousarray(block, dtype=dtype)
        written += block.size
        if written > size:
            raise ValueError(f"blocks hold more than the {size} elements of an array of shape {array.shape}")
        f.write(block.data)
    if written != size:
        raise ValueError(f"blocks hold {written} elements, an array of shape {array.shape} {size}")


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
