"""The options every file import takes: the file's encoding and delimiter, when detection errs."""

from __future__ import annotations

from typing import Annotated

import typer

Encoding = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="The file's text encoding (utf-8, cp1251, utf-16...) [detected].",
        metavar="NAME",
    ),
]
Delimiter = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        help="The field delimiter: one character such as ';' or ',', or 'tab' [detected].",
        metavar="CHAR",
    ),
]
