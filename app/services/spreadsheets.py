"""Tables as files for Dutch Excel: CSV (`;`, decimal comma, UTF-8 with BOM) and XLSX, neither of
which ever runs a cell as a formula. Used by the weekly list and the KPI report."""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import xlsxwriter

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    key: str  # the row's key
    title: str  # the Dutch header
    width: int  # in Excel's character widths


def safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula: a leading = + - @ gets a quote in front."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_cell(value: Cell, decimals: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{decimals}f}".replace(".", ",")
    return safe_cell(str(value))


def as_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, Cell]], *, decimals: int = 4) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.title for column in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(column.key), decimals) for column in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def as_xlsx(
    columns: Sequence[Column], rows: Sequence[Mapping[str, Cell]], *, title: str, sheet_name: str, created: datetime
) -> bytes:
    """One sheet with a bold header row, frozen and filterable. ``created`` is written as the file's
    creation time, so the same table gives the same bytes every time."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False})
    moment = created if created.tzinfo else created.replace(tzinfo=UTC)
    workbook.set_properties({"title": title, "created": moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)})
    sheet = workbook.add_worksheet(sheet_name)
    header = workbook.add_format({"bold": True, "bg_color": "#DDE7F0", "border": 1})
    for index, column in enumerate(columns):
        sheet.write_string(0, index, column.title, header)
        sheet.set_column(index, index, column.width)
    for row_number, row in enumerate(rows, start=1):
        for index, column in enumerate(columns):
            value = row.get(column.key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(row_number, index, value)
            elif value is not None:
                sheet.write_string(row_number, index, str(value))  # never a formula: strings_to_formulas is off
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(1, len(rows)), len(columns) - 1)
    workbook.close()
    return buffer.getvalue()
