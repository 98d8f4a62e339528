"""Draft emails: parsed back by the standard library, each has the right To, `X-Unsent: 1`, the letter as its body
and the workbook attached byte for byte; nothing a register or a message carries can break a header."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from scoa_xl.containers import ContainerKind, open_container
from scoa_xl.drafts import (
    XLSX_TYPE,
    Attachment,
    addresses,
    feedback_draft,
    issue_draft,
    reminder_draft,
    split_subject,
)
from scoa_xl.generate import generate
from scoa_xl.model import Identity, Status
from scoa_xl.outputs import feedback_context
from scoa_xl.render import render
from scoa_xl.results import FileRecord
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 1, 12)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    return generate(SPEC, tmp_path_factory.mktemp("drafts") / "Leeds - self-assessment.xlsx",
                    Identity(council="Leeds", council_code="E08000035"), generated_at=DAY)


@pytest.fixture(scope="module")
def letter() -> str:
    r = FileRecord("Inbox.mbox > SCOA return.eml > return.xlsx", Path("Inbox.mbox"), Status.VALID, council="Leeds",
                   respondent="Jo Bloggs", plan="plans/Leeds - plan.xlsx", current=True, completeness=100.0)
    return render("feedback.txt.j2", **feedback_context(r, SPEC))


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert not msg.defects and all(not p.defects for p in msg.walk())
    return msg


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return part.get_content()


def test_a_feedback_draft_with_the_plan_attached(letter, workbook):
    plan = Attachment("Leeds - plan.xlsx", workbook.read_bytes())
    draft = feedback_draft(letter, SPEC, to="Jo Bloggs <jo.bloggs@leeds.gov.uk>", council="Leeds", plan=plan)
    msg = parsed(draft.to_bytes())
    subject, text = split_subject(letter)
    assert msg["To"] == "Jo Bloggs <jo.bloggs@leeds.gov.uk>" and msg["X-Unsent"] == "1"
    assert msg["Subject"] == subject and "Leeds" in subject and letter.startswith(f"Subject: {subject}\n")
    assert body(msg) == text and text.startswith("Dear Jo Bloggs,")
    (att,) = msg.iter_attachments()
    assert (att.get_content_type(), att.get_filename()) == (XLSX_TYPE, "Leeds - plan.xlsx")
    assert att.get_content() == workbook.read_bytes()
    assert msg["From"] is None and msg["Date"] is None and msg["Message-ID"] is None  # a person sends it
    assert draft.to_bytes() == feedback_draft(letter, SPEC, to="Jo Bloggs <jo.bloggs@leeds.gov.uk>",
                                              council="Leeds", plan=plan).to_bytes()  # byte-repeatable


def test_a_feedback_draft_without_a_plan_or_an_address(letter):
    msg = parsed(feedback_draft(letter, SPEC, council="Leeds").to_bytes())
    assert msg["To"] is None and msg["X-Unsent"] == "1" and not msg.is_multipart()
    assert body(msg) == split_subject(letter)[1]


def test_a_letter_without_a_subject_line_keeps_every_word():
    text = "Dear colleague,\n\nThank you.\n"
    msg = parsed(feedback_draft(text, SPEC, to="a@b.org", council="York").to_bytes())
    assert body(msg) == text
    assert msg["Subject"] == f"Your {SPEC.title} return for York: feedback"


def test_a_configured_sender_is_the_from(letter):
    msg = parsed(feedback_draft(letter, SPEC, council="Leeds", sender="SCOA team <scoa@programme.org.uk>").to_bytes())
    assert msg["From"] == "SCOA team <scoa@programme.org.uk>"


def test_a_reminder_for_a_council_that_has_not_returned():
    draft = reminder_draft(SPEC, "Kent", to="contact@kent.gov.uk\ndeputy@kent.gov.uk", deadline="27 February 2026")
    msg = parsed(draft.to_bytes())
    assert msg["To"] == "contact@kent.gov.uk, deputy@kent.gov.uk" and msg["X-Unsent"] == "1"
    assert msg["Subject"] == f"Reminder: the {SPEC.title} return for Kent"
    text = body(msg)
    assert "return for Kent (it is due by 27 February 2026)" in text and text.endswith("The programme team\n")
    assert not msg.is_multipart()
    assert render("reminder_email.txt.j2", council="Kent", spec=SPEC, deadline="").startswith("Subject: ")


def test_an_issue_draft_attaches_the_councils_workbook(workbook):
    draft = issue_draft(SPEC, "Leeds", Attachment.from_path(workbook), to="commissioning@leeds.gov.uk")
    msg = parsed(draft.to_bytes())
    assert msg["To"] == "commissioning@leeds.gov.uk" and msg["X-Unsent"] == "1"
    assert msg["Subject"] == f"The {SPEC.title} self-assessment workbook for Leeds"
    assert f'("{workbook.name}")' in body(msg)
    (att,) = msg.iter_attachments()
    assert att.get_filename() == workbook.name and att.get_content_type() == XLSX_TYPE
    assert att.get_content() == workbook.read_bytes()


def test_a_draft_opened_as_a_container_gives_back_the_workbook(workbook):
    data = issue_draft(SPEC, "Leeds", Attachment.from_path(workbook), to="a@leeds.gov.uk").to_bytes()
    (item,) = open_container(data, "draft.eml", ContainerKind.EML)
    assert item.spreadsheet == "xlsx" and item.data == workbook.read_bytes()
    assert item.source.subject == f"The {SPEC.title} self-assessment workbook for Leeds"


def test_nothing_from_a_register_or_a_message_breaks_a_header(workbook):
    draft = issue_draft(SPEC, "Ynys Môn\r\nBcc: all@example.org",
                        Attachment("../../etc/Ynys Môn\r\n.xlsx", workbook.read_bytes()),
                        to="x@y.org\r\nBcc: evil@example.org", sender="no address here")
    msg = parsed(draft.to_bytes())
    assert msg["Bcc"] is None and msg["From"] is None
    assert msg["To"] == "x@y.org, evil@example.org"  # shown to the person who reviews it, never hidden
    assert msg["Subject"] == f"The {SPEC.title} self-assessment workbook for Ynys Môn Bcc: all@example.org"
    (att,) = msg.iter_attachments()
    assert att.get_filename() == "Ynys Môn.xlsx" and att.get_content() == workbook.read_bytes()


def test_addresses_keep_only_what_is_an_address():
    assert addresses("") == () and addresses([]) == ()
    assert addresses(["Jo <jo@leeds.gov.uk>", "not an address", "jo@leeds.gov.uk", "bad@@x", "x@", "@y",
                      "Smith <a b@c.org>"]) == ("Jo <jo@leeds.gov.uk>", "jo@leeds.gov.uk")
    assert addresses("Jo <jo@leeds.gov.uk>, jo@leeds.gov.uk") == ("Jo <jo@leeds.gov.uk>", "jo@leeds.gov.uk")
    assert addresses("Jo <jo@leeds.gov.uk>, Jo <jo@leeds.gov.uk>") == ("Jo <jo@leeds.gov.uk>",)  # once each


def test_long_lines_and_any_language_survive_the_round_trip():
    text = "Dear colleague,\n\n" + "Très long paragraphe, écrit sans retour à la ligne. " * 60 + "\n\nFrom us.\n"
    msg = parsed(feedback_draft(f"Subject: Réponse pour Ynys Môn\n\n{text}", SPEC, council="Ynys Môn").to_bytes())
    assert body(msg) == text and msg["Subject"] == "Réponse pour Ynys Môn"
