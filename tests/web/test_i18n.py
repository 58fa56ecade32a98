"""The gettext catalogues cover every string the pages show, in English and Chinese.

Fails when a template's `t('...')`, a page module's `N_('...')` / flash, a task form's field
or option, or a task kind has no entry (or an empty / fuzzy one) in a catalogue. Fix: run
`make i18n` (adds the new strings as empty entries) and fill in
api/web/locale/zh/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog

from api.web import i18n
from api.web.i18n_catalogue import form_terms, missing, page_strings, read, sync
from workflows.task_kinds import TASK_KINDS


def test_page_strings_are_found() -> None:
    found = page_strings()
    # one of each source: a template, a navigation label (N_), a flash, a sign-in error (N_)
    assert {"Policy version", "KPIs", "Task reassigned.", "Cancellation requested."} <= set(found)
    assert any(where.startswith("api/web/templates/") for where in found["Policy version"])


def test_every_page_string_is_in_both_catalogues() -> None:
    found = page_strings()
    for lang in i18n.LANGS:
        gaps = missing(read(lang), found)
        assert not gaps, f"{lang}: page strings missing from the catalogue:\n" + "\n".join(gaps)


def test_every_form_field_and_option_has_a_chinese_label() -> None:
    zh = read("zh")
    unlabelled = sorted(
        term
        for term in form_terms()
        if not (zh.get(term) and zh[term].string)
        and not (
            zh.get(term.replace("_", " ").capitalize())
            and zh[term.replace("_", " ").capitalize()].string
        )
    )
    assert not unlabelled, f"task form terms without a zh label: {unlabelled}"
    assert i18n.label("zh", "sms_opt_in") == "接收短信"
    assert i18n.label("en", "sms_opt_in") == "Sms opt in"


def test_every_task_kind_has_a_chinese_title() -> None:
    for kind, spec in TASK_KINDS.items():
        zh = i18n.title("zh", kind, spec["title"])
        assert zh != spec["title"], f"task kind {kind!r} has no zh title (msgctxt task_kind)"
        assert i18n.title("en", kind, spec["title"]) == spec["title"]


def test_catalogues_agree_and_keep_placeholders() -> None:
    en, zh = read("en"), read("zh")
    assert {m.id for m in en if m.id} == {m.id for m in zh if m.id}
    for msg in zh:
        if msg.id and isinstance(msg.id, str):
            want = sorted(re.findall(r"\{\w+\}", msg.id))
            assert sorted(re.findall(r"\{\w+\}", str(msg.string))) == want, msg.id


def test_the_check_catches_a_dropped_or_fuzzy_entry() -> None:
    found = page_strings()
    zh = read("zh")
    dropped = Catalog(locale="zh")
    for msg in zh:
        if msg.id and msg.id != "Task reassigned.":
            dropped.add(msg.id, msg.string, context=msg.context, flags=msg.flags)
    gaps = missing(dropped, found)
    assert len(gaps) == 1 and gaps[0].startswith("'Task reassigned.' (api/web/pages_supervisor.py:")
    dropped.add("Task reassigned.", "任务已改派。", flags=["fuzzy"])
    assert len(missing(dropped, found)) == 1
    dropped.add("Task reassigned.", "")
    assert len(missing(dropped, found)) == 1


def test_translations_come_from_the_catalogue() -> None:
    assert i18n.translate("zh", "Inbox") == "待办"
    assert i18n.translate("en", "Inbox") == "Inbox"
    assert i18n.translate("xx", "Inbox") == "Inbox"  # unknown language: English
    assert i18n.translate("zh", "no such text") == "no such text"
    assert i18n.translate("zh", "Activated {version}").format(version="v1") == "已启用 v1"


def test_sync_adds_new_strings_without_dropping_any(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for lang in i18n.LANGS:
        target = tmp_path / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        (target / "messages.po").write_bytes(i18n.po_path(lang).read_bytes())
    monkeypatch.setattr(
        "api.web.i18n_catalogue.po_path",
        lambda lang: tmp_path / lang / "LC_MESSAGES" / "messages.po",
    )
    monkeypatch.setattr(
        "api.web.i18n_catalogue.page_strings",
        lambda: {"A brand new heading": ["x:1"], "Inbox": ["y:2"]},
    )
    before = {m.id for m in read("zh")}
    assert sync() == {"en": 1, "zh": 1}
    after = read("zh")
    assert {m.id for m in after} == before | {"A brand new heading"}
    assert after["A brand new heading"].string == "" and after["Inbox"].string == "待办"
