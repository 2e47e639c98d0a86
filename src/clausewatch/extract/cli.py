"""`clausewatch extract`: the Markdown the automatic extractor makes of local files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clausewatch.cli_common import fail, out


def extract_cmd(
    files: Annotated[list[Path], typer.Argument(help="Local HTML or PDF files (combined).")],
) -> None:
    """Print the Markdown the automatic extractor makes of local files."""
    from clausewatch.capture.body import body_problem
    from clausewatch.extract import ExtractionError, extract_files

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"not a file: {', '.join(missing)}")
    paths = [f.resolve() for f in files]  # the extractor names sources by file:// URI
    for shown, path in zip(files, paths, strict=True):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise fail(f"{shown}: {exc.strerror or exc}") from exc
        # Neither PDF nor text (an image, an archive, an executable): say so, print nothing.
        problem = body_problem("text/html", content)
        if problem and problem.startswith("compressed"):
            kind = problem.rsplit("(", 1)[-1].rstrip(")")
            raise fail(
                f"{shown}: compressed ({kind}), not an HTML or PDF file: decompress it first"
            )
        if problem:
            raise fail(f"{shown}: binary content, not an HTML or PDF file")
        if not content.strip():
            raise fail(f"{shown}: empty file")
    try:
        markdown = extract_files(paths)
    except ExtractionError as exc:
        message = str(exc)
        for shown, path in zip(files, paths, strict=True):  # name files as they were given
            message = message.replace(str(path), str(shown))
        raise fail(message) from exc
    except ValueError as exc:  # what a parser says of bytes it cannot read
        raise fail(f"{', '.join(map(str, files))}: not readable as HTML or PDF ({exc})") from exc
    out.print(markdown, markup=False, highlight=False, soft_wrap=True)
