"""The text of the web pages in English and Chinese, from gettext catalogues (Babel).

The catalogues are `api/web/locale/<lang>/LC_MESSAGES/messages.po`; the msgid is the English
text. They are read as .po with Babel when first needed (no compile step, so a plain
`pip install -e .` or a fresh clone works); fuzzy entries are left out, as gettext does.
Templates call `t('...')`; Python page code marks its strings with `N_('...')` or passes them
to `sess.flash(...)`, so `pybabel extract` (see babel.cfg, `make i18n`) and
tests/web/test_i18n.py find every page string. Task titles are translated by kind (message
context `task_kind`); schema field and option names of task forms are translated when the
catalogue has them, else shown humanised.
"""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGS = ("en", "zh")
DOMAIN = "messages"
TASK_KIND_CONTEXT = "task_kind"


def N_(text: str) -> str:
    """Mark `text` as a page string for extraction; it is translated where it is shown."""
    return text


def po_path(lang: str) -> Path:
    """The catalogue file of `lang`."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalogue(lang: str) -> Translations:
    """The compiled catalogue of `lang` (English for an unknown language)."""
    if lang not in LANGS:
        lang = LANGS[0]
    with po_path(lang).open("rb") as fh:
        parsed = read_po(fh, locale=lang, domain=DOMAIN, abort_invalid=True)
    buffer = BytesIO()
    write_mo(buffer, parsed)  # in memory: a .mo next to the .po could go stale
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def translate(lang: str, text: str) -> str:
    """`text` in `lang` (English text is the key; unknown text comes back unchanged)."""
    return catalogue(lang).gettext(text)


def title(lang: str, kind: str, text: str) -> str:
    """A task's title in `lang` (the stored English title when the kind has none)."""
    if lang == LANGS[0]:
        return text
    translated = str(catalogue(lang).pgettext(TASK_KIND_CONTEXT, kind))
    return text if translated == kind else translated


def label(lang: str, key: str) -> str:
    """A schema field or option name as a label: translated when known, else humanised."""
    human = key.replace("_", " ").capitalize()
    if lang == LANGS[0]:
        return human
    translated = catalogue(lang).gettext(key)
    return translated if translated != key else catalogue(lang).gettext(human)
