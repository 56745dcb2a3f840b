"""Saving results: atomic writes (temporary file + ``os.replace``), always with the package version
and the parameters that produced them, so nothing is half-written or ambiguous.

* Single files (:func:`atomic_write`, :func:`save_json`, :func:`save_dataset`) appear complete or
  not at all, with the permissions the user's umask gives a new file (or those of the file they
  replace).
* Output *directories* of whole runs (``reproduce``, ``train-check``) are written by
  :func:`run_directory`: into a fresh sibling directory, switched into place when the run has
  finished, under a lock — an interrupted run leaves the previous results untouched, and a second
  run into the same directory is refused while the first is writing.
* Destinations are checked before any computation (:func:`check_output_file`,
  :func:`check_output_dir`), so a typo does not cost a whole run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from noetherlab._core.version import VERSION

__all__ = [
    "NETCDF_SUFFIXES",
    "JsonRecord",
    "atomic_write",
    "check_kind",
    "check_output_dir",
    "check_output_file",
    "create_zarr",
    "exclusive_lock",
    "from_jsonable",
    "open_result_dataset",
    "read_result_json",
    "reading",
    "run_directory",
    "save_dataset",
    "save_json",
    "to_jsonable",
]

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy/JAX scalars and arrays (and nested containers) to plain JSON types; non-finite
    floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` (valid JSON, still explicit); result
    records (:class:`JsonRecord`) become their :meth:`~JsonRecord.as_dict` and statuses their
    names."""
    if isinstance(obj, JsonRecord):
        return obj.as_dict()
    if isinstance(obj, enum.Enum):  # a status: its name
        return obj.name
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else ("nan" if np.isnan(f) else ("inf" if f > 0 else "-inf"))
    return obj


class JsonRecord:
    """Mixin for frozen result dataclasses: :meth:`as_dict` gives the JSON-ready fields (nested
    records included) and the derived properties named in ``json_properties`` (e.g.
    ``certified``, read off the status), with a ``kind`` entry naming the class."""

    json_properties: ClassVar[tuple[str, ...]] = ()

    def as_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        fields.update({name: getattr(self, name) for name in self.json_properties})
        return {"kind": type(self).__name__, **to_jsonable(fields)}


def from_jsonable(obj: Any) -> Any:
    """Undo :func:`to_jsonable`'s strings for non-finite floats (``"nan"``, ``"inf"``, ``"-inf"``)."""
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    if isinstance(obj, str) and obj in ("nan", "inf", "-inf"):
        return float(obj)
    return obj


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file in the destination directory, then move it into
    place with ``os.replace`` (atomic on POSIX): readers see the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or what the umask gives a new file (``0666 & ~umask``);
    ``mkstemp`` alone would make every result ``0600``."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _writable_parent(path: Path, argument: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise _io_error(
            argument,
            f"cannot write into {str(probe)!r} (not a writable directory)",
            "pick a writable location",
        )


def _io_error(argument: str, problem: str, fix: str) -> Exception:
    from noetherlab._core.errors import InvalidArgumentError

    return InvalidArgumentError(argument, problem, fix)


def check_output_file(
    path: str | Path, argument: str = "--out", suffixes: tuple[str, ...] = NETCDF_SUFFIXES
) -> Path:
    """Refuse, before computing, a file destination that is a directory, has the wrong suffix or
    lies in a directory that cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise _io_error(
            argument,
            f"{str(path)!r} is a directory",
            f"pass a file name, e.g. {path / ('result' + suffixes[0])}",
        )
    if suffixes and path.suffix.lower() not in suffixes:
        raise _io_error(
            argument,
            f"{str(path)!r} has the suffix {path.suffix or 'none'!r}, not one of {list(suffixes)}",
            f"name it with one of {list(suffixes)}, e.g. {path.with_suffix(suffixes[0])}",
        )
    _writable_parent(path, argument)
    return path


def check_output_dir(path: str | Path, argument: str = "--out") -> Path:
    """Refuse, before computing, a directory destination that is an existing file or cannot be
    created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _io_error(
            argument, f"{str(path)!r} is an existing file, not a directory", "pass a directory name"
        )
    _writable_parent(path, argument)
    return path


@contextlib.contextmanager
def exclusive_lock(path: str | Path, argument: str = "--out") -> Iterator[None]:
    """Hold the lock ``.<name>.lock`` next to ``path`` (an advisory ``flock``) while writing into
    it; a second writer is refused at once with an error naming ``argument``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise _io_error(
                    argument,
                    f"another noetherlab run is writing into {str(path)!r} right now",
                    f"wait for it to finish, or pass another {argument}",
                ) from None
            raise
        yield


@contextlib.contextmanager
def run_directory(path: str | Path, argument: str = "--out") -> Iterator[Path]:
    """Write a run's files into a fresh sibling directory and switch it into ``path`` at the end.

    A lock (:func:`exclusive_lock`) refuses a second run into the same directory while this
    one is writing. On success the previous contents of ``path`` are replaced as a whole (rename of
    the old directory, rename of the new one, removal of the old); on an exception or interrupt the
    fresh directory is removed and ``path`` is left as it was — results of two runs are never mixed."""
    path = check_output_dir(path, argument)
    with exclusive_lock(path, argument):
        # a run killed outright (SIGKILL, power loss) cannot clean up; holding the lock, no other
        # run is writing, so its leftovers are removed here
        for what in ("new", "old"):
            for stale in path.parent.glob(f".{path.name}.{what}-*"):
                shutil.rmtree(stale, ignore_errors=True)
        fresh = _fresh_sibling(path, "new")
        try:
            yield fresh
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(fresh, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _fresh_sibling(path: Path, what: str) -> Path:
    fresh = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{what}-"))
    os.chmod(fresh, 0o777 & ~_umask())
    return fresh


def create_zarr(
    path: str | Path,
    ds: Any,
    parameters: dict[str, Any] | None = None,
    encoding: dict[str, Any] | None = None,
) -> Path:
    """Create the Zarr store ``path`` (format 2, consolidated metadata) from ``ds`` with the version
    and the parameters (JSON) in its attributes: written into a fresh sibling directory and renamed
    into place, so the store exists complete or not at all. An existing ``path`` is refused."""
    path = Path(path)
    if path.exists():
        raise _io_error("store", f"{str(path)!r} exists already", "open it, or pass a new path")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    meta = _meta(parameters)
    ds.attrs["noetherlab_version"] = meta["noetherlab_version"]
    ds.attrs["parameters"] = json.dumps(meta["parameters"])
    fresh = _fresh_sibling(path, "new")
    try:
        ds.to_zarr(fresh, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
        os.replace(fresh, path)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _meta(parameters: dict[str, Any] | None) -> dict[str, Any]:
    return {"noetherlab_version": VERSION, "parameters": to_jsonable(parameters or {})}


def save_json(
    path: str | Path, data: dict[str, Any], parameters: dict[str, Any] | None = None
) -> Path:
    """Write ``data`` (plus version and parameters) as pretty JSON, atomically."""
    payload = {**_meta(parameters), **to_jsonable(data)}
    return atomic_write(
        path, lambda p: p.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    )


def save_dataset(path: str | Path, ds: Any, parameters: dict[str, Any] | None = None) -> Path:
    """Write an ``xarray.Dataset`` as netCDF4 (h5netcdf engine), atomically, with the version and
    the parameters (JSON) in its attributes. The file name must end in ``.nc`` (or ``.nc4``)."""
    check_output_file(path, "path")
    ds = ds.copy()
    meta = _meta(parameters)
    ds.attrs["noetherlab_version"] = meta["noetherlab_version"]
    ds.attrs["parameters"] = json.dumps(meta["parameters"])
    for name in list(ds.variables):
        if ds[name].dtype == bool:
            ds[name] = ds[name].astype("int8")
    return atomic_write(path, lambda p: ds.to_netcdf(p, engine="h5netcdf"))


def check_kind(attrs: dict[str, Any], kind: str, path: Any) -> None:
    """Refuse to load a file that was not written as ``kind`` (named in its ``kind`` attribute)."""
    from noetherlab._core.errors import InvalidArgumentError

    found = attrs.get("kind")
    if found != kind:
        raise InvalidArgumentError(
            "path",
            f"{str(path)!r} holds {found or 'no noetherlab result'}, not a {kind}",
            f"pass a file written from a {kind}",
        )


# ------------------------------------------------------------------------------ reading back
def _readable_file(path: Any, kind: str) -> Path:
    """``path`` as an existing, non-empty regular file, or a clear error naming ``path``."""
    from noetherlab._core.errors import InvalidArgumentError

    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError(
            "path", f"must be a file name, got {type(path).__name__}", f"pass the path of a {kind}"
        )
    p = Path(path)
    fix = f"pass a file written from a {kind} (its save method or the CLI's --out)"
    if not p.exists():
        raise InvalidArgumentError("path", f"{str(p)!r} does not exist", fix)
    if p.is_dir():
        raise InvalidArgumentError("path", f"{str(p)!r} is a directory, not a file", fix)
    if p.stat().st_size == 0:
        raise InvalidArgumentError("path", f"{str(p)!r} is empty", fix)
    if not os.access(p, os.R_OK):
        raise InvalidArgumentError("path", f"{str(p)!r} is not readable", "check its permissions")
    return p


@contextlib.contextmanager
def reading(path: Any, kind: str) -> Iterator[None]:
    """Turn what goes wrong while rebuilding a ``kind`` from ``path`` (a field missing, of the
    wrong type, a truncated file) into one clear error naming ``path``; noetherlab's own errors
    pass through."""
    from noetherlab._core.errors import InvalidArgumentError, NoetherlabError

    try:
        yield
    except NoetherlabError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, OSError, RuntimeError) as exc:
        raise InvalidArgumentError(
            "path",
            f"{str(path)!r} is not a readable {kind} ({type(exc).__name__}: {exc}); it may be "
            "truncated or written by something else",
            f"pass a complete file written from a {kind}, or write it again",
        ) from None


@contextlib.contextmanager
def open_result_dataset(path: Any, kind: str) -> Iterator[Any]:
    """Open the netCDF file of a ``kind`` (checked: it exists, is a netCDF file, holds a
    ``kind``), loaded into memory; errors while reading it are clear errors naming ``path``."""
    import xarray as xr

    p = _readable_file(path, kind)
    with reading(p, kind):
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            check_kind(ds.attrs, kind, p)
            loaded = ds.load()
        yield loaded


def read_result_json(path: Any, kind: str) -> dict[str, Any]:
    """The JSON object of a ``kind`` (checked like :func:`open_result_dataset`)."""
    from noetherlab._core.errors import InvalidArgumentError

    p = _readable_file(path, kind)
    with reading(p, kind):
        data = json.loads(p.read_text())
    if not isinstance(data, dict):
        raise InvalidArgumentError(
            "path",
            f"{str(p)!r} holds a JSON {type(data).__name__}, not a {kind}",
            f"pass a file written from a {kind}",
        )
    check_kind(data, kind, p)
    return data
