"""Returns straight from the inbox, end to end: a folder of saved emails, an Outlook message, a mailbox and a zip
goes through `scoa batch --json --drafts --register R` in a process of its own, and every row, every `source`
field, every score, the Returns sheet's columns and every draft are checked; `scoa check` and
`scoa generate --drafts` the same way.

Fixtures are made by real writers: .eml and .mbox by the standard library, .msg by aspose-email-foss, the zip by
zipfile, the returns by the tool itself and filled in by openpyxl as a user would.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import json
import mailbox
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from aspose.email_foss.msg import MapiMessage
from click.testing import CliRunner
from helpers import answers, fill_workbook
from python_calamine import CalamineWorkbook
from test_mail import XLSX, message, zipped

from scoa_xl.cli import main
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.spec import load_spec

SPEC = load_spec()
CMD = [sys.executable, "-c", "from scoa_xl.cli import main; main()"]
# (name, ONS code, contact email on the register)
REGISTER = [("Leeds", "E08000035", "scoa@leeds.gov.uk"), ("Hampshire", "E10000014", "asc@hants.gov.uk"),
            ("Kent", "E10000016", "commissioning@kent.gov.uk"), ("Camden", "E09000007", "asc@camden.gov.uk"),
            ("Cornwall", "E06000052", "asc@cornwall.gov.uk"), ("Norfolk", "E10000020", "asc@norfolk.gov.uk"),
            ("Birmingham", "E08000025", "asc@birmingham.gov.uk"), ("Manchester", "E08000003", "asc@manchester.gov.uk"),
            ("Derbyshire", "E10000007", "")]
EMAIL = dict((n, e) for n, _, e in REGISTER)

JO = "Jo Bloggs <jo.bloggs@leeds.gov.uk>"
PRIYA = "Priya Shah <priya.shah@hants.gov.uk>"
HELEN = "Helen Price <helen.price@kent.gov.uk>"
SAM = "Sam Whitfield <sam.whitfield@camden.gov.uk>"
ANN = "Ann Lee <ann.lee@programme.org.uk>"
AISHA = "Aisha Rahman <aisha.rahman@birmingham.gov.uk>"
NORFOLK = "norfolk.commissioning@norfolk.gov.uk"


def stamp(path: Path, day: int) -> None:
    t = dt.datetime(2026, 2, day, 9, 0).timestamp()
    os.utime(path, (t, t))


def mbox_file(path: Path, messages: list[EmailMessage]) -> None:
    box = mailbox.mbox(path)
    for m in messages:
        box.add(m)
    box.flush()
    box.close()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> dict:
    """The folder of an inbox as a programme team saves it, the returns' bytes, and the register."""
    base = tmp_path_factory.mktemp("inbox")
    blank = generate(SPEC, base / "blank.xlsx", Identity())

    def filled(name: str, council: str, code: str, respondent: str, organisation: str, shift: int,
               date: str = "2026-02-02") -> bytes:
        fill = answers(SPEC, lambda i, f: (i + shift) % 5 + 1, control=lambda i, f, n: SPEC.control[i % 4].label,
                       boost=lambda i, f, n: "Yes",
                       identity={"council": council, "council_code": code, "respondent": respondent,
                                 "organisation": organisation, "date": date})
        for m in SPEC.models:
            fill[f"priority_{m.id}"] = SPEC.priority[shift % 5].label
        return fill_workbook(blank, base / f"{name}.xlsx", fill).read_bytes()

    r = {"Leeds": filled("leeds", "Leeds", "E08000035", "Jo Bloggs", "Leeds City Council", 0),
         "Hampshire": filled("hants", "Hampshire", "E10000014", "Priya Shah", "Hampshire County Council", 1),
         "Kent": filled("kent", "Kent", "E10000016", "Helen Price", "Kent County Council", 2),
         "Camden": filled("camden", "Camden", "E09000007", "Sam Whitfield", "Camden Council", 3),
         "Cornwall council": filled("corn1", "Cornwall", "E06000052", "Ruth Adebayo", "Cornwall Council", 4),
         "Cornwall ICB": filled("corn2", "Cornwall", "E06000052", "Owen Marsh", "Cornwall ICB", 0),
         "Norfolk": filled("norfolk", "Norfolk", "E10000020", "", "Norfolk County Council", 1),
         "Birmingham 1": filled("bham1", "Birmingham", "E08000025", "Aisha Rahman", "Birmingham City Council", 2),
         "Birmingham 2": filled("bham2", "Birmingham", "E08000025", "Aisha Rahman", "Birmingham City Council", 3)}
    folder = base / "returns"
    folder.mkdir()
    (folder / "Leeds return.xlsx").write_bytes(r["Leeds"])
    (folder / "Hampshire.eml").write_bytes(message(PRIYA, "Tue, 03 Feb 2026 14:05:00 +0100", "SCOA return - Hampshire",
                                                   [("Hampshire SCOA.xlsx", r["Hampshire"], XLSX),
                                                    ("cover.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")]).as_bytes())
    (folder / "Kent.msg").write_bytes(MapiMessage.from_email_message(
        message(HELEN, "Wed, 04 Feb 2026 09:15:00 +0000", "Kent SCOA return",
                [("Kent.xlsx", r["Kent"], XLSX)])).to_bytes())
    original = message(SAM, "Thu, 05 Feb 2026 16:45:00 -0500", "SCOA return - Camden",
                       [("Camden.xlsx", r["Camden"], XLSX)])
    forward = message(ANN, "Fri, 06 Feb 2026 08:00:00 +0000", "Fwd SCOA return", [original],
                      body="Forwarding Camden's return.\n")
    mbox_file(folder / "Inbox.mbox", [forward])
    (folder / "Cornwall partners.zip").write_bytes(zipped({"Cornwall council.xlsx": r["Cornwall council"],
                                                           "Cornwall ICB.xlsx": r["Cornwall ICB"],
                                                           "notes.txt": b"Both partners' views.\n"}))
    (folder / "Chasing.eml").write_bytes(message(JO, "Mon, 09 Feb 2026 10:00:00 +0000", "Did you get it?",
                                                 body="Just checking our return arrived.\n").as_bytes())
    (folder / "Norfolk.eml").write_bytes(message(NORFOLK, "Tue, 10 Feb 2026 11:30:00 +0000", "Norfolk",
                                                 [("return", r["Norfolk"], "application/octet-stream")]).as_bytes())
    (folder / "Leeds resend.eml").write_bytes(message(JO, "Wed, 11 Feb 2026 12:00:00 +0000", "SCOA return again",
                                                      [("Leeds return.xlsx", r["Leeds"], XLSX)]).as_bytes())
    # One respondent, one date completed, sent twice: the date sent decides, though the file times say otherwise.
    (folder / "Birmingham first.eml").write_bytes(message(AISHA, "Mon, 02 Feb 2026 10:00:00 +0000", "SCOA return",
                                                          [("Birmingham.xlsx", r["Birmingham 1"], XLSX)]).as_bytes())
    (folder / "Birmingham second.eml").write_bytes(message(AISHA, "Fri, 06 Feb 2026 10:00:00 +0000",
                                                           "SCOA return (corrected)",
                                                           [("Birmingham.xlsx", r["Birmingham 2"], XLSX)]).as_bytes())
    for n, name in enumerate(sorted(p.name for p in folder.iterdir()), 1):
        stamp(folder / name, n + 1)
    stamp(folder / "Leeds return.xlsx", 1)  # the file came first: the attachment is its copy
    stamp(folder / "Birmingham first.eml", 20)  # saved last, sent first
    stamp(folder / "Birmingham second.eml", 15)
    register = base / "register.csv"
    with open(register, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "code", "region", "email"])
        w.writerows([(n, c, "", e) for n, c, e in REGISTER])
    return {"base": base, "folder": folder, "returns": r, "register": register}


@pytest.fixture(scope="module")
def run(inbox) -> dict:
    out = inbox["base"] / "out"
    before = {p.name: p.read_bytes() for p in inbox["folder"].iterdir()}
    proc = subprocess.run([*CMD, "batch", str(inbox["folder"]), "-o", str(out), "--json", "--quiet", "--drafts",
                           "--register", str(inbox["register"]), "--jobs", "2"],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert {p.name: p.read_bytes() for p in inbox["folder"].iterdir()} == before  # inputs never changed
    data = json.loads(proc.stdout)
    return {"proc": proc, "out": out, "files": {f["file"]: f for f in data["files"]}, "json": data,
            "rows": {r["File"]: r for r in sheet_rows(out / "summary.xlsx", "Returns", "File")}}


def sheet_rows(path: Path, sheet: str, header: str) -> list[dict]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    top = next(i for i, r in enumerate(rows) if r and r[0] == header)
    out = []
    for r in rows[top + 1:]:
        if not any(v not in ("", None) for v in r):
            break
        out.append(dict(zip(rows[top], r, strict=False)))
    return out


def source(container, kind, sender, sent, subject, attachment) -> dict:
    return {"container": container, "kind": kind, "from": sender, "sent": sent, "subject": subject,
            "attachment": attachment}


BHAM1, BHAM2 = "Birmingham first.eml > Birmingham.xlsx", "Birmingham second.eml > Birmingham.xlsx"
CAMDEN = "Inbox.mbox > Fwd SCOA return.eml > SCOA return - Camden.eml > Camden.xlsx"
# file -> (status, the return it holds (a key of inbox["returns"]) or a word the Note must hold, source)
EXPECT = {
    BHAM1: ("superseded", "Birmingham 1", source("Birmingham first.eml", "eml", AISHA, "2026-02-02T10:00:00+00:00",
                                                 "SCOA return", "Birmingham.xlsx")),
    BHAM2: ("valid", "Birmingham 2", source("Birmingham second.eml", "eml", AISHA, "2026-02-06T10:00:00+00:00",
                                            "SCOA return (corrected)", "Birmingham.xlsx")),
    "Chasing.eml": ("skipped", "an email with nothing attached",
                    source("Chasing.eml", "eml", JO, "2026-02-09T10:00:00+00:00", "Did you get it?", None)),
    "Cornwall partners.zip > Cornwall council.xlsx": ("valid", "Cornwall council", source(
        "Cornwall partners.zip", "zip", None, None, None, "Cornwall council.xlsx")),
    "Cornwall partners.zip > Cornwall ICB.xlsx": ("valid", "Cornwall ICB", source(
        "Cornwall partners.zip", "zip", None, None, None, "Cornwall ICB.xlsx")),
    "Cornwall partners.zip > notes.txt": ("skipped", "not a spreadsheet (a text file)", source(
        "Cornwall partners.zip", "zip", None, None, None, "notes.txt")),
    "Hampshire.eml > Hampshire SCOA.xlsx": ("valid", "Hampshire", source(
        "Hampshire.eml", "eml", PRIYA, "2026-02-03T14:05:00+01:00", "SCOA return - Hampshire", "Hampshire SCOA.xlsx")),
    "Hampshire.eml > cover.pdf": ("skipped", "not a spreadsheet (a PDF document)", source(
        "Hampshire.eml", "eml", PRIYA, "2026-02-03T14:05:00+01:00", "SCOA return - Hampshire", "cover.pdf")),
    # The council's own message is the nearest one: its sender and its date (zone kept), not the forward's.
    CAMDEN: ("valid", "Camden", source("Inbox.mbox", "mbox", SAM, "2026-02-05T16:45:00-05:00", "SCOA return - Camden",
                                       "Camden.xlsx")),
    "Kent.msg > Kent.xlsx": ("valid", "Kent", source("Kent.msg", "msg", HELEN, "2026-02-04T09:15:00+00:00",
                                                     "Kent SCOA return", "Kent.xlsx")),
    "Leeds resend.eml > Leeds return.xlsx": ("duplicate", "Leeds", source(
        "Leeds resend.eml", "eml", JO, "2026-02-11T12:00:00+00:00", "SCOA return again", "Leeds return.xlsx")),
    "Leeds return.xlsx": ("valid", "Leeds", None),
    "Norfolk.eml > return": ("queries", "Norfolk", source("Norfolk.eml", "eml", NORFOLK, "2026-02-10T11:30:00+00:00",
                                                          "Norfolk", "return")),
}


def test_every_attachment_and_member_has_its_row_and_source(run):
    proc = run["proc"]
    assert "Traceback" not in proc.stderr and proc.stderr.strip() == ""
    assert proc.returncode == 0, proc.stderr  # nothing invalid or unreadable
    files, rows = run["files"], run["rows"]
    assert set(files) == set(EXPECT) and set(rows) == set(EXPECT)
    for name, (status, what, src) in EXPECT.items():
        assert (name, files[name]["status"], rows[name]["Status"]) == (name, status, status)
        assert files[name]["source"] == src, name
        if status == "skipped":
            assert files[name]["score"] is None and what in rows[name]["Note"], (name, rows[name]["Note"])
    assert [i["code"] for i in files["Chasing.eml"]["issues"]] == ["MAIL_007"]
    assert files["Leeds return.xlsx"]["issues"] == [] and files[BHAM2]["issues"] == []
    # The cover without a name: a query about it, and nothing else.
    assert [i["code"] for i in files["Norfolk.eml > return"]["issues"]] == ["ID_002"]
    # Who each return is from, as the cover says.
    assert (rows[CAMDEN]["Council"], rows[CAMDEN]["Respondent"]) == ("Camden", "Sam Whitfield")
    assert rows["Cornwall partners.zip > Cornwall ICB.xlsx"]["Organisation"] == "Cornwall ICB"


def test_scores_are_those_of_the_same_bytes_as_a_plain_file(run, inbox, tmp_path):
    runner = CliRunner()
    for name, (status, key, _src) in EXPECT.items():
        if status == "skipped":
            continue
        plain = tmp_path / f"{key}.xlsx"
        plain.write_bytes(inbox["returns"][key])
        res = runner.invoke(main, ["score", str(plain), "--json"])
        assert res.exit_code == 0, res.output
        assert run["files"][name]["score"] == json.loads(res.output), name
    assert run["files"][BHAM1]["score"] != run["files"][BHAM2]["score"]  # two different returns


def test_the_returns_sheet_says_who_sent_each_and_when(run):
    rows = run["rows"]
    for name, (_status, _what, src) in EXPECT.items():
        got = (rows[name]["From"], rows[name]["Sent"], rows[name]["Subject"])
        want = (src["from"] or "", src["sent"] or "", src["subject"] or "") if src else ("", "", "")
        assert got == want, name
    cols = list(rows["Leeds return.xlsx"])
    assert cols[:4] == ["File", "From", "Sent", "Subject"]


def test_a_file_and_the_same_bytes_attached_are_one_return_and_a_duplicate(run):
    rows = run["rows"]
    copy = "Leeds resend.eml > Leeds return.xlsx"
    assert rows[copy]["Duplicate of / Superseded by"] == "Duplicate of Leeds return.xlsx"
    assert rows[copy]["Counted in figures"] == "No" and rows["Leeds return.xlsx"]["Counted in figures"] == "Yes"
    leeds = [c for c in run["json"]["councils"] if c["council"] == "Leeds"]
    assert [c["files"] for c in leeds] == [["Leeds return.xlsx"]]  # counted once
    cornwall, = [c for c in run["json"]["councils"] if c["council"] == "Cornwall"]
    assert sorted(cornwall["respondents"]) == ["Owen Marsh", "Ruth Adebayo"]  # two partners in one zip: combined


def test_a_resubmission_is_decided_by_the_date_sent(run):
    rows = run["rows"]
    assert rows[BHAM1]["Duplicate of / Superseded by"] == f"Superseded by {BHAM2} (later by date sent)"
    assert rows[BHAM2]["Duplicate of / Superseded by"] == f"Supersedes {BHAM1}"
    assert (rows[BHAM1]["Counted in figures"], rows[BHAM2]["Counted in figures"]) == ("No", "Yes")


def test_the_letter_greets_the_sender_when_the_cover_names_nobody(run):
    rows = run["rows"]
    norfolk = (run["out"] / rows["Norfolk.eml > return"]["Feedback"]).read_text(encoding="utf-8")
    assert f"\nDear {NORFOLK},\n" in norfolk
    camden = (run["out"] / rows[CAMDEN]["Feedback"]).read_text(encoding="utf-8")
    assert "\nDear Sam Whitfield,\n" in camden  # a name on the cover comes first
    assert f'Thank you for sending "{CAMDEN}"' in camden


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage) and not msg.defects
    return msg


def test_drafts_answer_each_return_and_remind_the_rest(run):
    out, rows = run["out"], run["rows"]
    drafts = {p.name: parsed(p.read_bytes()) for p in (out / "drafts").iterdir()}
    assert all(name.endswith(".eml") and not name.endswith(".eml.eml") for name in drafts)
    to = {BHAM2: AISHA, "Chasing.eml": JO, "Cornwall partners.zip > Cornwall council.xlsx": EMAIL["Cornwall"],
          "Cornwall partners.zip > Cornwall ICB.xlsx": EMAIL["Cornwall"], "Hampshire.eml > Hampshire SCOA.xlsx": PRIYA,
          CAMDEN: SAM, "Kent.msg > Kent.xlsx": HELEN, "Leeds return.xlsx": EMAIL["Leeds"],
          "Norfolk.eml > return": NORFOLK}
    seen = set()
    for name, address in to.items():
        letter_path = out / rows[name]["Feedback"]
        draft_name = letter_path.stem.removesuffix(".eml") + ".eml"  # "Chasing.eml" has the draft "Chasing.eml"
        msg = drafts[draft_name]
        seen.add(draft_name)
        assert (msg["To"], msg["X-Unsent"]) == (address, "1"), name
        letter = letter_path.read_text(encoding="utf-8")
        first, rest = letter.split("\n", 1)
        assert first.startswith("Subject: ") and msg["Subject"] == first.removeprefix("Subject: ")
        assert msg.get_body(("plain",)).get_content() == rest.lstrip("\n"), name
        attached = list(msg.iter_attachments())
        if rows[name]["Plan"]:
            (att,) = attached
            plan = out / rows[name]["Plan"]
            assert att.get_filename() == plan.name and att.get_content() == plan.read_bytes(), name
        else:
            assert attached == [], name
    assert rows["Leeds return.xlsx"]["Plan"] and rows[CAMDEN]["Plan"]
    # No draft for a copy, an old return or a file that is not a return; one reminder each for the rest.
    reminders = {n: m for n, m in drafts.items() if n not in seen}
    assert sorted(reminders) == ["Reminder - Derbyshire.eml", "Reminder - Manchester.eml"]
    assert reminders["Reminder - Manchester.eml"]["To"] == EMAIL["Manchester"]
    assert reminders["Reminder - Derbyshire.eml"]["To"] is None  # no address on the register: left for a person
    for m in reminders.values():
        assert m["X-Unsent"] == "1" and not m.is_multipart() and "Reminder" in m["Subject"]


def test_check_opens_every_container(inbox):
    res = CliRunner().invoke(main, ["check", "--json", *sorted(str(p) for p in inbox["folder"].iterdir())])
    assert res.exit_code == 0, res.output
    prefix = f"{inbox['folder']}{os.sep}"
    got = {r["file"].removeprefix(prefix): r["status"] for r in json.loads(res.output)}
    want = {n: s for n, (s, _w, _src) in EXPECT.items() if s != "skipped"}
    want[BHAM1] = want["Leeds resend.eml > Leeds return.xlsx"] = "valid"  # check looks at each file alone
    assert got == want


def test_generate_issues_each_workbook_as_a_draft(inbox, tmp_path):
    out = tmp_path / "issued"
    res = CliRunner().invoke(main, ["generate", "--register", str(inbox["register"]), "--out-dir", str(out),
                                    "--drafts"])
    assert res.exit_code == 0, res.output
    drafts = sorted((out / "drafts").iterdir())
    assert len(drafts) == len(REGISTER)
    for (council, _code, address), path in zip(sorted(REGISTER), drafts, strict=True):
        msg = parsed(path.read_bytes())
        workbook = out / f"{council} - self-assessment.xlsx"
        assert path.name == f"{council} - self-assessment.eml"
        assert msg["To"] == (address or None) and msg["X-Unsent"] == "1" and council in msg["Subject"]
        (att,) = msg.iter_attachments()
        assert att.get_filename() == workbook.name and att.get_content() == workbook.read_bytes()


def test_a_council_whose_contact_sent_an_unreadable_file_gets_its_letter_not_a_reminder(inbox, tmp_path):
    """Manchester's contact sends a file that cannot be read: the draft to them says so and asks for it again;
    Manchester is not also reminded that nothing came, and the summary's tracker shows it replied with nothing
    readable. The same file from an address not on the register says
    nothing about who sent it, so there Manchester is reminded with every other council."""
    from scoa_xl.batch import run_batch

    damaged = inbox["returns"]["Leeds"][:3000]  # cut short on its way
    for k, (sender, manchester_reminded) in enumerate((("Pat Ryan <ASC@Manchester.gov.uk>", False),
                                                      ("someone@example.org", True))):
        folder, out = tmp_path / f"in-{k}", tmp_path / f"out-{k}"
        folder.mkdir()
        (folder / "Our return.eml").write_bytes(message(sender, "Mon, 09 Feb 2026 10:00:00 +0000", "SCOA return",
                                                        [("Manchester.xlsx", damaged, XLSX)]).as_bytes())
        result = run_batch(folder, out, SPEC, register=inbox["register"], jobs=1, drafts=True)
        (record,) = result.files
        assert record.status is not None and record.status.value == "unreadable"
        drafts = {p.name: email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                  for p in (out / "drafts").glob("*.eml")}
        reminded = sorted(n.removeprefix("Reminder - ").removesuffix(".eml") for n in drafts
                          if n.startswith("Reminder - "))
        assert reminded == sorted(c for c, _, _ in REGISTER if manchester_reminded or c != "Manchester"), sender
        (letter,) = [m for n, m in drafts.items() if not n.startswith("Reminder - ")]
        assert letter["To"] == sender and letter["X-Unsent"] == "1"
        text = letter.get_body(("plain",)).get_content()
        assert "We could not read" in text
        # The summary's tracker says the same: Manchester replied, with nothing that could be read yet.
        tracker = {r["Council"]: r for r in sheet_rows(out / "summary.xlsx", "Tracker", "Council")}
        manchester = tracker["Manchester"]
        if manchester_reminded:
            assert (manchester["State"], manchester["Returned"], manchester["Files"]) == ("missing", "No", "")
        else:
            assert (manchester["State"], manchester["Returned"]) == ("could not be read", "No")
            assert manchester["Files"] == "Our return.eml > Manchester.xlsx"
        total = {r["Region"]: r for r in sheet_rows(out / "summary.xlsx", "Tracker", "Region")}["All regions"]
        assert (total["Expected"], total["Returned"], total["Could not be read"], total["Missing"]) == \
            (len(REGISTER), 0, 0 if manchester_reminded else 1, len(REGISTER) - (0 if manchester_reminded else 1))
        assert text.startswith("Dear Pat Ryan,\n" if k == 0 else "Dear someone@example.org,\n")  # a name, not a header


def test_an_email_that_kills_or_hangs_its_worker_is_reported_and_the_rest_are_read(inbox, tmp_path, monkeypatch):
    """Emails, mailboxes and archives are opened in the workers, each within a time limit: one whose opening dies
    (a real SIGKILL of its worker) or never finishes is a row saying so, and every other file is read as usual.
    Which email does what is chosen by patching the opener before the workers are forked; the kill and the wait
    are real."""
    import signal
    import time

    from scoa_xl import tasks
    from scoa_xl.batch import run_batch
    from scoa_xl.errors import Code

    real = tasks.open_one

    def opener(r, scratch):
        if r.file == "kills.eml":
            os.kill(os.getpid(), signal.SIGKILL)
        if r.file == "hangs.eml":
            time.sleep(120)
        return real(r, scratch)

    monkeypatch.setattr(tasks, "open_one", opener)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("kills.eml", "hangs.eml", "good.eml"):
        (folder / name).write_bytes(message(JO, "Mon, 09 Feb 2026 10:00:00 +0000", "SCOA return",
                                            [("Leeds.xlsx", inbox["returns"]["Leeds"], XLSX)]).as_bytes())
    (folder / "Cornwall.xlsx").write_bytes(inbox["returns"]["Cornwall council"])
    result = run_batch(folder, tmp_path / "out", SPEC, register=inbox["register"], jobs=2, time_limit=5)
    by_file = {f.file: f for f in result.files}
    assert sorted(by_file) == ["Cornwall.xlsx", "good.eml > Leeds.xlsx", "hangs.eml", "kills.eml"]
    # An email's issue says to save the email again, not to save it as a workbook.
    assert [i.code for i in by_file["kills.eml"].issues] == [Code.MAIL_006]
    assert "stopped the reader" in by_file["kills.eml"].issues[0].found
    assert [i.code for i in by_file["hangs.eml"].issues] == [Code.MAIL_006]  # stopped at the limit, not waited for
    assert by_file["hangs.eml"].issues[0].found == "no result after 5 seconds"
    for name in ("kills.eml", "hangs.eml"):
        f = by_file[name]
        assert f.status is not None and f.status.value == "unreadable" and "email" in f.issues[0].expected
        letter = (tmp_path / "out" / f.feedback).read_text(encoding="utf-8")
        assert "mail program" in letter and "save it as .xlsx" not in letter.lower()
    for name in ("good.eml > Leeds.xlsx", "Cornwall.xlsx"):
        assert by_file[name].status is not None and by_file[name].status.value == "valid", name
        assert by_file[name].plan
