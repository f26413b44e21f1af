"""Atomic file writing: a write goes to a temporary name in the target folder, then is renamed into place.

An interrupted run therefore never leaves a partial output file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(path: str | os.PathLike, *, overwrite: bool = True, argument: str = "out",
                      inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Validate an output path before any work is done.

    Its folder must exist and be writable; an existing file (a symbolic link too, even a dangling one) needs
    ``overwrite``; a path that is one of ``inputs`` (the files the command reads) is refused even with
    ``overwrite``, so a result never replaces its own input.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{argument} must be a path in an existing directory; got {str(p)!r} "
                                f"(directory {str(parent)!r} does not exist).")
    for src in inputs:
        if src is not None and os.path.lexists(p) and _same_file(p, Path(src)):
            raise ValueError(f"{argument} {str(p)!r} is the input file {str(src)!r}; choose another output "
                             "path (the input is never replaced, even with --overwrite).")
    if os.path.isdir(p):
        raise IsADirectoryError(f"{argument} must be a file path; {str(p)!r} is a directory.")
    if os.path.lexists(p) and not overwrite:
        what = "is a symbolic link" if os.path.islink(p) else "already exists"
        raise FileExistsError(f"{argument} {str(p)!r} {what}; pass overwrite=True (--overwrite) "
                              "to replace it.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{argument} {str(p)!r} cannot be written: its folder {str(parent)!r} is not "
                              "writable.")
    return p


def check_output_dir(out_dir: str | os.PathLike, *, overwrite: bool = False, argument: str = "out_dir") -> Path:
    """Validate an output folder before any work is done: a path (``TypeError`` otherwise) whose parent exists
    (``FileNotFoundError``), not a file, and, when it exists and is not empty, ``overwrite`` is needed
    (``FileExistsError``). The folder is not created. Returns the path."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a folder path (str or os.PathLike); got {type(out_dir).__name__}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{argument} {str(out)!r} exists and is a file; give a folder path.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{argument} must be in an existing directory; got {str(out)!r} (directory "
                                f"{str(parent)!r} does not exist).")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{argument} {str(out)!r} already exists and is not empty; pass overwrite=True "
                              "(--overwrite) to write into it, or choose another folder (--out).")
    return out


def _publish(tmp_path: Path, target: Path, *, overwrite: bool, argument: str) -> None:
    """Move the finished temporary file to ``target``.

    Without ``overwrite`` the target is created exclusively (a hard link fails if the name exists), so a file
    that another process wrote there while this one was computing is never replaced silently.
    """
    if overwrite:
        os.replace(tmp_path, target)
        return
    try:
        os.link(tmp_path, target)
    except FileExistsError:
        raise FileExistsError(
            f"{argument} {str(target)!r} was created by another process while this one was running; this "
            "result was not written (pass overwrite=True (--overwrite) to replace it)."
        ) from None
    except OSError:  # a file system without hard links: the check and the rename are as close as they get
        if os.path.lexists(target):
            raise FileExistsError(
                f"{argument} {str(target)!r} was created by another process while this one was running; this "
                "result was not written (pass overwrite=True (--overwrite) to replace it)."
            ) from None
        os.replace(tmp_path, target)
        return
    tmp_path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True, argument: str = "out") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it to ``path``, on error delete it.

    The temporary name keeps the final suffix so libraries that infer the format from it (NumPy, astropy) work.
    Without ``overwrite`` the final step creates ``path`` exclusively (see :func:`_publish`).
    """
    target = check_output_path(path, overwrite=overwrite, argument=argument)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=target.parent)
    except PermissionError:
        raise PermissionError(f"{argument} {str(target)!r} cannot be written: its folder "
                              f"{str(target.parent)!r} is not writable.") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates a private (0600) file; give the result the permissions of an ordinary new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        _publish(tmp_path, target, overwrite=overwrite, argument=argument)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def _move_into(src: Path, dst: Path) -> None:
    """Move every entry of folder ``src`` into folder ``dst`` (files replaced atomically, folders merged)."""
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir():
            _move_into(entry, target)
            entry.rmdir()
        else:
            os.replace(entry, target)


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a new hidden folder beside ``out_dir`` to write a whole output folder into; on success its
    contents become ``out_dir`` (renamed into place when ``out_dir`` is missing or empty, moved in file by file
    otherwise), on any error or interruption (``KeyboardInterrupt`` included) the staging folder is deleted,
    so a folder of results is either complete or absent."""
    import shutil

    out = Path(out_dir)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=parent))
    except PermissionError:
        raise PermissionError(f"out_dir {str(out)!r} cannot be written: its folder {str(parent)!r} is not "
                              "writable.") from None
    try:
        yield stage
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes a private (0700) folder
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if not os.path.lexists(out):
            os.rename(stage, out)
        else:
            _move_into(stage, out)
            stage.rmdir()
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
