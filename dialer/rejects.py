"""The rejects file of an import: every row not imported, with its line and the reason.

Written in the input's own encoding and delimiter, so that it opens as the input did and, once
fixed, its rows can be imported again. The default name carries the time of the import, and an
import never replaces an earlier one's file.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from itertools import count
from pathlib import Path
from typing import IO, Any

from dialer.csvfiles import CsvShape


class RejectsWriter:
    """Writes rejected rows (line, reason, row) in the input's shape; creates the file lazily.

    With `keep_existing`, a file already at `path` is left alone and the rows go to the first
    free `<stem>-2.csv`, `<stem>-3.csv`...: the default path must never overwrite an earlier one.
    """

    def __init__(
        self, path: Path, shape: CsvShape, header: Sequence[str], *, keep_existing: bool
    ) -> None:
        self.path = path
        self.count = 0
        self._shape = shape
        self._header = header
        self._keep_existing = keep_existing
        self._file: IO[str] | None = None
        self._writer: Any = None

    def write(self, line_no: int, row: Sequence[str], reason: str) -> None:
        """Record one rejected row."""
        if self._writer is None:
            self._file = self._open()
            self._writer = csv.writer(self._file, delimiter=self._shape.delimiter)
            self._writer.writerow(["line", "reason", *self._header])
        self._writer.writerow([line_no, reason, *row])
        self.count += 1

    def _open(self) -> IO[str]:
        if not self._keep_existing:
            return self.path.open("w", encoding=self._shape.encoding, newline="")
        first = self.path
        for n in count(2):
            try:
                return self.path.open("x", encoding=self._shape.encoding, newline="")
            except FileExistsError:
                self.path = first.with_name(f"{first.stem}-{n}{first.suffix}")
        raise AssertionError("count() never ends")  # pragma: no cover

    def close(self) -> None:
        """Close the file if one was written."""
        if self._file is not None:
            self._file.close()

    def discard(self) -> None:
        """Close and delete the file: the import it belonged to did not happen."""
        self.close()
        if self._file is not None:
            self.path.unlink(missing_ok=True)


def default_rejects_path(path: Path, when: dt.datetime) -> Path:
    """Where the rejects of `path` go unless told otherwise: `<file>.rejects-<when>.csv`."""
    return path.with_name(f"{path.name}.rejects-{when:%Y%m%d-%H%M%S}.csv")
