"""What an old .xls workbook's records say that the reader does not give: which cells hold a formula, and the
formula as it was typed.

The reader (calamine) gives an .xls cell's value, which for a formula is only what the saving application last
computed: a rating typed as =2+2 would be read as 4. The pre-flight look walks every record of the file once
already; it keeps the formula records here (`BiffFormulas`), and `formula_text` turns one back into the text a
user typed, from the parsed form the file stores ([MS-XLS] 2.5.198, "Formula" and the Ptg tokens), for the
tokens people type: numbers, text, cell and range references (on this sheet or another), operators and
functions. A formula that uses anything else (a defined name, an array, a function this table does not name)
still holds a formula: its text is given as "" and it is reported as a formula all the same.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from decimal import Decimal

from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

UNREADABLE = ""  # the text of a formula whose tokens are not ones read here


@dataclass
class BiffFormulas:
    """The formula records of a BIFF8 workbook stream, as the pre-flight walk met them."""

    sheets: list[str] = field(default_factory=list)  # in the file's order: a reference to another sheet counts
    externs: list[tuple[int, int, int]] = field(default_factory=list)  # EXTERNSHEET: book, first and last sheet
    own_books: set[int] = field(default_factory=set)  # which SUPBOOK records stand for this workbook
    # Per sheet name: each formula cell's parsed formula (the record from its length on), and each shared
    # formula's tokens by the first cell of its range.
    cells: dict[str, dict[tuple[int, int], bytes]] = field(default_factory=dict)
    shared: dict[str, dict[tuple[int, int], bytes]] = field(default_factory=dict)

    def text(self, sheet: str, at: tuple[int, int]) -> str | None:
        """The formula a cell (row, col) holds, as typed ("=2+2"), or UNREADABLE; None for a cell without one."""
        body = self.cells.get(sheet, {}).get(at)
        return None if body is None else formula_text(body, at, self.shared.get(sheet, {}), self)

    def texts(self, sheet: str) -> dict[tuple[int, int], str | None]:
        """Every formula cell of a sheet, (row, col) -> its text as `text` gives it."""
        return {at: self.text(sheet, at) for at in self.cells.get(sheet, {})}

    def sheet_ref(self, ixti: int) -> str | None:
        """The sheet part of a 3-D reference ("'System design'!"), for a sheet of this workbook."""
        if not 0 <= ixti < len(self.externs):
            return None
        book, first, last = self.externs[ixti]
        if book not in self.own_books or first != last or not 0 <= first < len(self.sheets):
            return None
        return quote_sheetname(self.sheets[first]) + "!"


_BINARY = {0x03: "+", 0x04: "-", 0x05: "*", 0x06: "/", 0x07: "^", 0x08: "&", 0x09: "<", 0x0A: "<=", 0x0B: "=",
           0x0C: ">=", 0x0D: ">", 0x0E: "<>", 0x0F: " ", 0x10: ",", 0x11: ":"}
_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!",
           0x2A: "#N/A"}

# The built-in functions people type, by their number in the file ([MS-XLS] 2.5.198.17, Ftab), with how many
# arguments each takes where the file does not say (None: as many as the formula gives, stored with it).
FUNCTIONS: dict[int, tuple[str, int | None]] = {
    0: ("COUNT", None), 1: ("IF", None), 2: ("ISNA", 1), 3: ("ISERROR", 1), 4: ("SUM", None),
    5: ("AVERAGE", None), 6: ("MIN", None), 7: ("MAX", None), 8: ("ROW", None), 9: ("COLUMN", None),
    10: ("NA", 0), 15: ("SIN", 1), 16: ("COS", 1), 19: ("PI", 0), 20: ("SQRT", 1), 24: ("ABS", 1), 25: ("INT", 1),
    26: ("SIGN", 1), 27: ("ROUND", 2), 28: ("LOOKUP", None), 29: ("INDEX", None), 30: ("REPT", 2),
    31: ("MID", 3), 32: ("LEN", 1), 33: ("VALUE", 1), 34: ("TRUE", 0), 35: ("FALSE", 0), 36: ("AND", None),
    37: ("OR", None), 38: ("NOT", 1), 39: ("MOD", 2), 48: ("TEXT", 2), 63: ("RAND", 0), 65: ("DATE", 3),
    67: ("DAY", 1), 68: ("MONTH", 1), 69: ("YEAR", 1), 74: ("NOW", 0), 100: ("CHOOSE", None),
    101: ("HLOOKUP", None), 102: ("VLOOKUP", None), 111: ("CHAR", 1), 112: ("LOWER", 1), 113: ("UPPER", 1),
    114: ("PROPER", 1), 115: ("LEFT", None), 116: ("RIGHT", None), 117: ("EXACT", 2), 118: ("TRIM", 1),
    119: ("REPLACE", 4), 120: ("SUBSTITUTE", None), 124: ("FIND", None), 127: ("ISTEXT", 1),
    128: ("ISNUMBER", 1), 129: ("ISBLANK", 1), 162: ("CLEAN", 1), 169: ("COUNTA", None), 183: ("PRODUCT", None),
    212: ("ROUNDUP", 2), 213: ("ROUNDDOWN", 2), 221: ("TODAY", 0), 227: ("MEDIAN", None),
    228: ("SUMPRODUCT", None), 336: ("CONCATENATE", None), 337: ("POWER", 2), 344: ("SUBTOTAL", None),
    345: ("SUMIF", None), 346: ("COUNTIF", 2), 347: ("COUNTBLANK", 1), 359: ("HYPERLINK", None),
}


class _Unread(Exception):
    """A token this reader does not turn back into text, or a formula that does not add up."""


def formula_text(body: bytes, at: tuple[int, int], shared: dict[tuple[int, int], bytes],
                 book: BiffFormulas) -> str:
    """A formula cell's text as typed, from its record's parsed formula (cce, then the tokens); UNREADABLE
    where its tokens are not ones read here or the record is damaged."""
    try:
        (cce,) = struct.unpack_from("<H", body, 0)
        tokens = body[2:2 + cce]
        if tokens[:1] == b"\x01" and len(tokens) == 5:  # ptgExp: the cell is one of a shared formula's range
            tokens = shared[struct.unpack_from("<HH", tokens, 1)]
            (cce,) = struct.unpack_from("<H", tokens, 0)
            return "=" + _decode(tokens[2:2 + cce], at, book, relative=True)
        return "=" + _decode(tokens, at, book, relative=False)
    except (_Unread, struct.error, KeyError, IndexError, UnicodeDecodeError, OverflowError):
        return UNREADABLE


def _number(x: float) -> str:
    """A number as a formula shows it: 7, 2.5, 0.00001; 1E-20 only where it is that small or large."""
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text and 1e-9 <= abs(x) < 1e15:
        return format(Decimal(text), "f")
    return text.upper().replace("E+", "E")


def _cell(row: int, col: int, at: tuple[int, int], relative: bool) -> str:
    """A reference's row and column fields (BIFF8: the column's top bits say which parts are relative) as A1."""
    col_rel, row_rel = bool(col & 0x4000), bool(col & 0x8000)
    c = col & 0x3FFF
    if relative:  # a shared formula's references are offsets from the cell, where relative
        row = (at[0] + (row - 0x10000 if row_rel and row >= 0x8000 else row)) & 0xFFFF if row_rel else row
        c = (at[1] + ((c & 0xFF) - 0x100 if c & 0x80 else c & 0xFF)) & 0xFF if col_rel else c
    return xl_rowcol_to_cell(row, c, not row_rel, not col_rel)


def _decode(tokens: bytes, at: tuple[int, int], book: BiffFormulas, relative: bool) -> str:
    stack: list[str] = []
    p = 0
    while p < len(tokens):
        ptg = tokens[p]
        p += 1
        base = ptg if ptg < 0x20 else (ptg & 0x1F) | 0x20  # the reference and value classes spell the same
        if base in _BINARY:
            b, a = stack.pop(), stack.pop()
            stack.append(a + _BINARY[base] + b)
        elif base in (0x12, 0x13):  # unary plus and minus
            stack.append(("+" if base == 0x12 else "-") + stack.pop())
        elif base == 0x14:
            stack.append(stack.pop() + "%")
        elif base == 0x15:
            stack.append("(" + stack.pop() + ")")
        elif base == 0x16:  # an argument left out: IF(A1,,2)
            stack.append("")
        elif base == 0x17:
            n, flags = tokens[p], tokens[p + 1]
            raw = tokens[p + 2:p + 2 + (2 * n if flags & 1 else n)]
            p += 2 + len(raw)
            text = raw.decode("utf-16-le") if flags & 1 else raw.decode("latin-1")
            if len(text) != n:
                raise _Unread
            stack.append('"' + text.replace('"', '""') + '"')
        elif base == 0x19:  # an attribute: spaces, IF and CHOOSE jumps, and SUM of one range
            flags, count = tokens[p], struct.unpack_from("<H", tokens, p + 1)[0]
            p += 3 + (2 * (count + 1) if flags & 0x04 else 0)
            if flags & 0x10:
                stack.append("SUM(" + stack.pop() + ")")
        elif base == 0x1C:
            stack.append(_ERRORS.get(tokens[p], "#N/A"))
            p += 1
        elif base == 0x1D:
            stack.append("TRUE" if tokens[p] else "FALSE")
            p += 1
        elif base == 0x1E:
            stack.append(str(struct.unpack_from("<H", tokens, p)[0]))
            p += 2
        elif base == 0x1F:
            stack.append(_number(struct.unpack_from("<d", tokens, p)[0]))
            p += 8
        elif base in (0x21, 0x22):  # a function: its number, and for 0x22 how many arguments it was given
            if base == 0x22:
                argc, number = tokens[p] & 0x7F, struct.unpack_from("<H", tokens, p + 1)[0]
                p += 3
            else:
                argc, number = -1, struct.unpack_from("<H", tokens, p)[0]
                p += 2
            name, fixed = FUNCTIONS.get(number, (None, None)) if not number & 0x8000 else (None, None)
            given = argc if argc >= 0 else fixed
            if name is None or given is None or given > len(stack):
                raise _Unread
            args = stack[len(stack) - given:]
            del stack[len(stack) - given:]
            stack.append(name + "(" + ",".join(args) + ")")
        elif base in (0x24, 0x2C):  # a cell: ptgRef, or ptgRefN in a shared formula
            row, col = struct.unpack_from("<HH", tokens, p)
            p += 4
            stack.append(_cell(row, col, at, relative and base == 0x2C))
        elif base in (0x25, 0x2D):  # a range
            r1, r2, c1, c2 = struct.unpack_from("<HHHH", tokens, p)
            p += 8
            rel = relative and base == 0x2D
            stack.append(_cell(r1, c1, at, rel) + ":" + _cell(r2, c2, at, rel))
        elif base in (0x26, 0x27, 0x28):  # ptgMemArea, MemErr, MemNoMem: a header; the tokens follow
            p += 6
        elif base == 0x29:  # ptgMemFunc
            p += 2
        elif base in (0x2A, 0x2B):  # a reference to cells since deleted
            p += 4 if base == 0x2A else 8
            stack.append("#REF!")
        elif base in (0x3A, 0x3B):  # a cell or range on another sheet
            ixti = struct.unpack_from("<H", tokens, p)[0]
            sheet = book.sheet_ref(ixti)
            if sheet is None:
                raise _Unread
            if base == 0x3A:
                row, col = struct.unpack_from("<HH", tokens, p + 2)
                stack.append(sheet + _cell(row, col, at, False))
                p += 6
            else:
                r1, r2, c1, c2 = struct.unpack_from("<HHHH", tokens, p + 2)
                stack.append(sheet + _cell(r1, c1, at, False) + ":" + _cell(r2, c2, at, False))
                p += 10
        else:  # a defined name, an array, a table, an add-in: not read here
            raise _Unread
    if len(stack) != 1:
        raise _Unread
    return stack[0]
