"""The one catalogue of issue codes: every problem a return can have, and what to do about it.

Each entry says how serious it is (an error must be fixed; a query is unusual and should be
fixed or explained), what it means, and the fix in words a commissioner can act on. Messages
are rendered from here and nowhere else, so tests compare against the catalogue, not retyped text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .model import Cell, Severity


class ScoaError(Exception):
    """A problem with what the user gave the tool (a file, a folder, an option), explained in words.

    The command line turns these into "Error: ..." and exit status 1; anything else is a bug and shows
    its traceback.
    """


class SpecError(ScoaError):
    """A spec file that cannot be used: names the file, the key path and what is wrong."""


class InputError(ScoaError):
    """An input other than a return that cannot be used: a folder, a register, a set of returns."""


class OutputError(ScoaError):
    """The tool could not write its outputs (a full disk, a folder it may not write): names the path."""


class ReturnUnreadable(ScoaError):
    """A file that cannot be read as a return at all; carries the issue that explains why."""

    def __init__(self, issue: Issue):
        super().__init__(issue.message)
        self.issue = issue


@dataclass(frozen=True, slots=True)
class Entry:
    severity: Severity
    title: str
    fix: str


E, Q = Severity.ERROR, Severity.QUERY


class Code(StrEnum):
    FILE_001 = "FILE_001"
    FILE_002 = "FILE_002"
    FILE_003 = "FILE_003"
    FILE_004 = "FILE_004"
    FILE_005 = "FILE_005"
    FILE_006 = "FILE_006"
    FILE_007 = "FILE_007"
    FILE_008 = "FILE_008"
    SPEC_001 = "SPEC_001"
    SPEC_002 = "SPEC_002"
    SPEC_003 = "SPEC_003"
    SPEC_004 = "SPEC_004"
    SPEC_005 = "SPEC_005"
    SHEET_001 = "SHEET_001"
    SHEET_002 = "SHEET_002"
    ID_001 = "ID_001"
    ID_002 = "ID_002"
    ID_003 = "ID_003"
    ID_004 = "ID_004"
    ID_005 = "ID_005"
    ID_006 = "ID_006"
    VAL_001 = "VAL_001"
    VAL_002 = "VAL_002"
    VAL_003 = "VAL_003"
    VAL_004 = "VAL_004"
    VAL_005 = "VAL_005"
    ANS_001 = "ANS_001"
    ANS_002 = "ANS_002"
    ANS_003 = "ANS_003"
    ANS_004 = "ANS_004"
    ANS_005 = "ANS_005"
    ANS_006 = "ANS_006"
    ANS_007 = "ANS_007"
    TEXT_001 = "TEXT_001"
    TEXT_002 = "TEXT_002"
    MAIL_001 = "MAIL_001"
    MAIL_002 = "MAIL_002"
    MAIL_003 = "MAIL_003"
    MAIL_004 = "MAIL_004"
    MAIL_005 = "MAIL_005"
    MAIL_006 = "MAIL_006"
    MAIL_007 = "MAIL_007"
    MAIL_008 = "MAIL_008"
    MAIL_009 = "MAIL_009"
    FORMULA_001 = "FORMULA_001"
    FORMULA_002 = "FORMULA_002"
    WORD_001 = "WORD_001"


CATALOGUE: dict[Code, Entry] = {
    Code.FILE_001: Entry(E, "Not a workbook we can read",
                         "Send the return as the Excel workbook (.xlsx) it was issued as, "
                         "or as a LibreOffice .ods file."),
    Code.FILE_002: Entry(E, "Workbook is password-protected",
                         "Open it, remove the password to open (File > Info > Protect Workbook in Excel), "
                         "save it and send it again."),
    Code.FILE_003: Entry(E, "File is too large or suspiciously compressed",
                         "Send the workbook as it was issued, without embedded pictures, extra sheets or anything "
                         "typed far outside the form; if it really is a return, ask the programme team to check it "
                         "by hand."),
    Code.FILE_004: Entry(Q, "Workbook contains macros",
                         "Nothing needs doing: the answers were read and the macros were neither run nor kept. "
                         "Next time save it as an ordinary .xlsx workbook."),
    Code.FILE_005: Entry(E, "File is empty",
                         "The file has no content. Save the workbook again and send the saved copy."),
    Code.FILE_006: Entry(E, "File took too long to read",
                         "The file may be damaged. Open it, save it as .xlsx under a new name and send that copy."),
    Code.FILE_007: Entry(Q, "Old Excel format (.xls)",
                         "The answers were read, but please save as .xlsx next time (File > Save As > "
                         "Excel Workbook) so nothing is lost."),
    Code.FILE_008: Entry(E, "File holds XML that could attack the reader",
                         "It was not read. Open the workbook you were sent, copy your answers into it and send that; "
                         "spreadsheet applications never save files like this one, so if you did not expect it, "
                         "tell your IT team."),
    Code.SPEC_001: Entry(E, "Not a self-assessment return, or the form version is missing",
                         "Use the self-assessment workbook you were sent, or ask the programme team for a new copy "
                         "and copy your answers into it."),
    Code.SPEC_002: Entry(E, "Return made from a version of the form we cannot read",
                         "Ask the programme team for the current workbook and copy your answers into it."),
    Code.SPEC_003: Entry(Q, "Return made from an earlier version of the form",
                         "Nothing needs doing: your answers were carried over to the current version. "
                         "Check the factors listed as new or retired."),
    Code.SPEC_004: Entry(Q, "The form's wording has been changed",
                         "Check that the factor statements were not edited; if they were, ask the programme team "
                         "for a fresh workbook."),
    Code.SPEC_005: Entry(E, "Return made from a newer version of the form than this copy of scoa knows",
                         "For the programme team: update scoa (pip install --upgrade scoa_xl), or run it with "
                         "--spec and the spec file this workbook was made from. The respondent need do nothing."),
    Code.SHEET_001: Entry(E, "A sheet is missing",
                          "Restore the sheet from the workbook you were sent (copy it back in) or ask for a "
                          "fresh copy; do not delete or rename sheets."),
    Code.SHEET_002: Entry(E, "A factor or model row is missing",
                          "Restore the row from the workbook you were sent; do not delete rows or change the "
                          "factor and model ids in column A."),
    Code.ID_001: Entry(E, "No council named",
                       "Type the council's name in the council box on the cover sheet."),
    Code.ID_002: Entry(Q, "No respondent named",
                       "Type the name of the person or group answering on the cover sheet."),
    Code.ID_003: Entry(Q, "Council not on the register",
                       "Check the council's name on the cover sheet: use its name as on the list of councils (the "
                       "nearest names are given), or tell the programme team if it is right."),
    Code.ID_004: Entry(E, "Not an ONS code",
                       "Type the council's ONS code on the cover sheet: E followed by eight digits (E08000035 for "
                       "Leeds), or leave it blank."),
    Code.ID_005: Entry(E, "ONS code belongs to another council",
                       "Make the council's name and ONS code on the cover sheet agree: one of them is wrong."),
    Code.ID_006: Entry(E, "The cover holds the form's own text",
                       "The sheets look mixed up (a sheet copied over the cover, say): start again from the "
                       "workbook as issued, or type the council and respondent on the cover sheet."),
    Code.VAL_001: Entry(E, "Rating not on the list",
                        "Choose a rating from the dropdown in that cell (1 to 5, or \"Don't know\")."),
    Code.VAL_002: Entry(E, "Importance not on the list",
                        "Choose Low, Medium or High from the dropdown, or leave it blank for the default."),
    Code.VAL_003: Entry(E, "Control category not on the list",
                        "Choose one of the four control categories from the dropdown."),
    Code.VAL_004: Entry(E, "Boost answer not on the list",
                        "Choose Yes or No from the dropdown."),
    Code.VAL_005: Entry(E, "Model priority fit not on the list",
                        "Choose a fit from 1 to 5 from the dropdown."),
    Code.ANS_001: Entry(Q, "Inhibitor with no control category",
                        "Say whether this factor is in your control, influenceable, out of your control or "
                        "needs innovation: the plan groups the actions by it."),
    Code.ANS_002: Entry(Q, "Supporter with no boost answer",
                        "Say Yes or No to whether you could boost this supporting factor."),
    Code.ANS_003: Entry(Q, "Control category given for a factor that is not holding you back",
                        "Clear the control category, or change the rating to 1 or 2 if the factor holds you back."),
    Code.ANS_004: Entry(Q, "Boost answer given for a factor that is not a supporter",
                        "Clear the boost answer, or change the rating to 4 or 5 if the factor supports you."),
    Code.ANS_005: Entry(Q, "Fewer than half of this aspect's factors answered",
                        "Rate more of the factors: the aspect has no room-for-manoeuvre score until at least "
                        "half are answered."),
    Code.ANS_006: Entry(Q, "No priority fit given for a model",
                        "Rate how well the model fits your local priorities and values; until then its fit "
                        "rests on readiness alone."),
    Code.ANS_007: Entry(Q, "Answer marked \"to confirm\" (carried forward from last year, or partners differ)",
                        "Check the answer (or settle it with your partners), then clear the mark in the "
                        "\"To confirm\" column."),
    Code.TEXT_001: Entry(Q, "Text is too long or holds characters a spreadsheet cannot keep",
                         "Shorten the text (a cell holds at most 32,767 characters) or remove control characters; "
                         "what could be kept was kept."),
    Code.TEXT_002: Entry(Q, "Text looks like a formula",
                         "Nothing needs doing: it was kept as plain text and will never run as a formula. "
                         "Remove the leading =, +, - or @ if it was not meant."),
    Code.MAIL_001: Entry(E, "Email or archive is too large to open",
                         "Ask the sender to attach each workbook to an email of its own, or save the workbooks "
                         "out of the email or archive and put them in the folder as files."),
    Code.MAIL_002: Entry(E, "Email or archive holds too many attachments or files",
                         "Save the returns out of it and put them in the folder as files, or split it into smaller "
                         "emails or archives; no real return comes with this many."),
    Code.MAIL_003: Entry(E, "Emails or archives nested too deep",
                         "Open the innermost email or archive, save the workbook out of it and put that in the "
                         "folder as a file."),
    Code.MAIL_004: Entry(E, "Zip archive is password-protected",
                         "Ask the sender for the password, unzip it and put the workbooks in the folder, or ask "
                         "them to send the workbooks without a zip."),
    Code.MAIL_005: Entry(E, "Outlook TNEF (winmail.dat) attachment",
                         "Ask the sender to send the workbook again as a normal attachment (in Outlook, write the "
                         "email as HTML or plain text, not Rich Text)."),
    Code.MAIL_006: Entry(E, "Email or archive is damaged",
                         "Save the email (or archive) again from the mail program and put the new copy in the "
                         "folder, or save the workbook out of it and put that in the folder."),
    Code.MAIL_007: Entry(Q, "Email has nothing attached",
                         "Nothing to read in it: if the sender meant to send a return, ask them to send the email "
                         "again with the workbook attached."),
    Code.MAIL_008: Entry(E, "Archive is suspiciously compressed (a zip bomb)",
                         "It was not unpacked. Ask the sender for the workbooks themselves; if you did not expect "
                         "the archive, tell your IT team."),
    Code.MAIL_009: Entry(Q, "Attachment was damaged on its way",
                         "What could be decoded was used; if the workbook does not read correctly, ask the sender "
                         "to send it again."),
    Code.WORD_001: Entry(Q, "The form's own wording was changed in this cell",
                         "Put back the form's wording (shown as expected) and say what you meant in the notes: the "
                         "answer in this row was read as an answer to the form's wording, and every council is "
                         "compared on that."),
    Code.FORMULA_001: Entry(Q, "A text answer is a formula",
                            "Nothing needs doing: the formula's own text was kept as your answer, as plain text, "
                            "and it will never run. If you meant what it shows, type that text into the cell "
                            "instead."),
    Code.FORMULA_002: Entry(E, "An answer cell holds a formula",
                            "Clear the formula and choose or type the answer itself (for a rating, importance, "
                            "control, boost or fit, pick from the cell's dropdown): a formula is never taken as an "
                            "answer, so this cell counts as blank until then."),
}


@dataclass(frozen=True, slots=True)
class Issue:
    severity: Severity
    code: Code
    sheet: str
    cell: str
    found: str
    expected: str
    fix: str
    title: str

    @property
    def message(self) -> str:
        parts = [self.title]
        if self.found:
            parts.append(f"found {self.found}")
        if self.expected:
            parts.append(f"expected {self.expected}")
        return "; ".join(parts) + ". " + self.fix

    @property
    def location(self) -> str:
        if not self.sheet:
            return ""
        return f"'{self.sheet}'!{self.cell}" if self.cell else f"'{self.sheet}'"

    def to_json(self) -> dict:
        return {
            "severity": self.severity.value,
            "code": self.code.value,
            "sheet": self.sheet or None,
            "cell": self.cell or None,
            "message": self.message,
            "found": self.found,
            "expected": self.expected,
            "fix": self.fix,
        }


def issue(code: Code, where: Cell | None = None, found: str = "", expected: str = "",
          sheet: str = "", cell: str = "") -> Issue:
    """Make an issue from the catalogue, placed at a cell."""
    entry = CATALOGUE[code]
    if where is not None:
        sheet, cell = where.sheet, where.ref
    return Issue(entry.severity, code, sheet, cell, found, expected, entry.fix, entry.title)


def worker_failed(failure: str, limit: float, error: str = "", *, what: str = "workbook") -> Issue:
    """The issue for a file whose worker process gave no answer: it overran `limit` seconds ("timeout"), raised
    `error` ("error"), or died ("crash"). `what` it should have been: "workbook", or "container" (an email, a
    mailbox or an archive: its issue says to save it again from the mail program, not to save it as a
    workbook)."""
    stopped = f"a file that stopped the reader ({error or 'it may be damaged'})"
    if what == "container":
        found = f"no result after {limit:g} seconds" if failure == "timeout" else stopped
        return issue(Code.MAIL_006, found=found, expected=f"an email, mailbox or archive that opens within "
                                                          f"{limit:g} seconds")
    if failure == "timeout":
        return issue(Code.FILE_006, found=f"no result after {limit:g} seconds",
                     expected=f"a workbook that can be read within {limit:g} seconds")
    return issue(Code.FILE_001, found=stopped, expected="an .xlsx or .ods workbook that opens normally")


def show(value: object) -> str:
    """How a found value is quoted in a message."""
    if value is None or value == "":
        return "a blank cell"
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f'"{text}"'


def catalogue_markdown() -> str:
    """The catalogue as a Markdown page: code, severity, title and what to do (docs/issue-codes.md)."""
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731  a pipe would split the table's cell
    lines = [
        "# Issue codes",
        "",
        "Every problem `scoa check` can report about a return, from the one catalogue in `scoa_xl/errors.py`.",
        "An **error** must be fixed before the return can be used; a **query** is unusual and should be fixed",
        "or explained. Each issue in a report also names the sheet and cell, what was found and what was",
        "expected.",
        "",
        "This page is generated: `scoa codes --markdown > docs/issue-codes.md`.",
        "",
        "| Code | Severity | Title | What to do |",
        "| --- | --- | --- | --- |",
    ]
    for code, entry in CATALOGUE.items():
        lines.append(f"| {code.value} | {entry.severity.value} | {cell(entry.title)} | {cell(entry.fix)} |")
    return "\n".join(lines) + "\n"


class IssueCounts:
    """Errors and queries counted from an `issues` list: for anything that carries one."""

    __slots__ = ()
    issues: list[Issue]

    @property
    def errors(self) -> int:
        return sum(i.severity == Severity.ERROR for i in self.issues)

    @property
    def queries(self) -> int:
        return sum(i.severity == Severity.QUERY for i in self.issues)
