"""Which strings the pages show, and keeping the gettext catalogues in step with them.

`page_strings()` extracts with Babel what templates pass to `t(...)` and what page code marks
with `N_(...)` or flashes; `form_terms()` lists the field and option names of the task forms
(from the completion schemas). `python -m api.web.i18n_catalogue` adds every such string
missing from a catalogue as an empty entry (nothing is removed: dynamic strings live there
too), so a translator sees what to fill in; tests/web/test_i18n.py fails while one is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from api.web.i18n import LANGS, LOCALE_DIR, po_path
from workflows.task_kinds import TASK_KINDS

log = logging.getLogger(__name__)

WEB_DIR = LOCALE_DIR.parent
# t(...) in templates; N_(...) and sess.flash(...) in page code; _ for the usual convention
KEYWORDS: dict[str, Any] = {"t": None, "N_": None, "flash": None, "_": None}
METHODS = [("templates/**.html", "jinja2"), ("*.py", "python")]


def page_strings() -> dict[str, list[str]]:
    """Every literal page string -> where it occurs (`file:line`)."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        WEB_DIR, METHODS, keywords=KEYWORDS, comment_tags=()
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(f"api/web/{filename}:{lineno}")
    return found


def _schema_terms(schema: dict[str, Any]) -> Iterator[str]:
    for key, sub in schema.get("properties", {}).items():
        yield key
        yield from (str(v) for v in sub.get("enum", []))
        yield from _schema_terms(sub)
        yield from _schema_terms(sub.get("items", {}))


def form_terms() -> set[str]:
    """Field and option names the task forms show (labelled by `i18n.label`)."""
    return {term for kind in TASK_KINDS.values() for term in _schema_terms(kind["schema"])}


def read(lang: str) -> Catalog:
    """The parsed catalogue of `lang`."""
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang, abort_invalid=True)


def missing(cat: Catalog, texts: dict[str, list[str]]) -> list[str]:
    """The texts without a usable entry in `cat` (absent, fuzzy, or untranslated in a
    language other than English), each with where it occurs."""
    english = str(cat.locale) == LANGS[0]
    out = []
    for text, where in sorted(texts.items()):
        msg = cat.get(text)
        if msg is None or msg.fuzzy or (not english and not msg.string):
            out.append(f"{text!r} ({', '.join(where)})")
    return out


def sync() -> dict[str, int]:
    """Add the page strings a catalogue lacks (empty msgstr); the count added per language."""
    added: dict[str, int] = {}
    wanted = sorted(page_strings())
    for lang in LANGS:
        cat = read(lang)
        missing = [text for text in wanted if text not in cat]
        for text in missing:
            cat.add(text, "")
        with po_path(lang).open("wb") as fh:
            write_po(fh, cat, width=100, omit_header=False)
        added[lang] = len(missing)
    return added


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for language, count in sync().items():
        log.info("%s: %d new entries in %s", language, count, po_path(language))
