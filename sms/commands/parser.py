"""Reading a customer's text as a command. Never raises: anything unreadable is HELP.

Case, accents, extra spaces and punctuation do not matter ("  Bal. 1000-0001-1 ", "Relevé:
12 345,5", "lipa 1,500"); keywords exist in English, French and Swahili, and the language of
the keyword is remembered so a reply can use it. Digits are ASCII digits only.

    BAL [account]        SOLDE, SALIO, BALANCE
    BILL [account]       FACTURE, BILI, INVOICE
    PAY <amount> [acct]  PAYER, LIPA          amounts: 500, 1,500, 1 500, 1.500,50, 12.5
    READ <index> [acct]  RELEVE, INDEX, SOMA, READING, METER, COMPTEUR, MITA
    LANG <en|fr|sw>      LANGUAGE, LANGUE, LUGHA
    HELP                 AIDE, MSAADA, ?
    STOP / START         ARRET, ACHA, SITISHA / DEMARRER, REPRENDRE, ANZA
"""

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from billing.account_numbers import account_number_clean

# Keyword -> (command, language of the keyword; "" when shared by several languages).
KEYWORDS = {
    "bal": ("bal", "en"), "balance": ("bal", "en"), "solde": ("bal", "fr"),
    "salio": ("bal", "sw"),
    "bill": ("bill", "en"), "invoice": ("bill", "en"), "facture": ("bill", "fr"),
    "bili": ("bill", "sw"), "ankara": ("bill", "sw"),
    "pay": ("pay", "en"), "payer": ("pay", "fr"), "paye": ("pay", "fr"),
    "payez": ("pay", "fr"), "lipa": ("pay", "sw"),
    "read": ("read", "en"), "reading": ("read", "en"), "meter": ("read", "en"),
    "releve": ("read", "fr"), "index": ("read", ""), "compteur": ("read", "fr"),
    "soma": ("read", "sw"), "mita": ("read", "sw"),
    "lang": ("lang", "en"), "language": ("lang", "en"), "langue": ("lang", "fr"),
    "lugha": ("lang", "sw"),
    "help": ("help", "en"), "aide": ("help", "fr"), "msaada": ("help", "sw"),
    "stop": ("stop", ""), "unsubscribe": ("stop", "en"), "arret": ("stop", "fr"),
    "arreter": ("stop", "fr"), "acha": ("stop", "sw"), "sitisha": ("stop", "sw"),
    "start": ("start", ""), "subscribe": ("start", "en"), "demarrer": ("start", "fr"),
    "reprendre": ("start", "fr"), "anza": ("start", "sw"),
}  # fmt: skip
LANGUAGE_WORDS = {
    "en": "en", "english": "en", "anglais": "en", "kiingereza": "en",
    "fr": "fr", "french": "fr", "francais": "fr", "kifaransa": "fr",
    "sw": "sw", "swahili": "sw", "kiswahili": "sw",
}  # fmt: skip
COMMANDS = frozenset({"bal", "bill", "pay", "read", "lang", "help", "stop", "start"})
MAX_TEXT = 500  # longer texts are read from their start

_KEYWORD = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[a-z]+")
# 1,500 / 1 500 / 1.500 / 1'500 (groups of three, one separator) or 1500, then optional
# decimals .5 / ,50.
_NUMBER = re.compile(
    r"(?<![0-9])([1-9][0-9]{0,2}(?P<sep>[ ,.'])[0-9]{3}(?:(?P=sep)[0-9]{3})*|[0-9]+)"
    r"(?:[.,]([0-9]{1,3}))?(?![0-9])"
)
_ACCOUNT = re.compile(r"[0-9](?:[0-9 \-./]*[0-9])?")


@dataclass(frozen=True)
class Command:
    name: str  # one of COMMANDS; "help" also for anything not understood
    language: str = ""  # the language of the keyword, when it tells
    amount: Decimal | None = None  # PAY
    index: Decimal | None = None  # READ
    account: str | None = None  # as typed (digits and separators), checked by the handler
    target_language: str | None = None  # LANG
    understood: bool = True  # False: the text was not a command (the reply is HELP)


HELP_NOT_UNDERSTOOD = Command("help", understood=False)


def text_fold(text: str) -> str:
    """Lower case, accents removed, compatibility forms (full-width letters) unfolded."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_TEXT])
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.casefold()


def _number(rest: str) -> tuple[Decimal | None, str]:
    """The first number in `rest`, and `rest` without it. Space-grouped digits that run into
    an account number ("1 500 100 000 011") end where a valid account number begins."""
    match = _NUMBER.search(rest)
    if match is None:
        return None, rest
    digits, end, decimals = match.group(1), match.end(), match.group(3)
    if match.group("sep") == " " and not decimals:
        groups = digits.split(" ")
        for cut in range(1, len(groups)):
            if account_number_clean("".join(groups[cut:])) is not None:
                digits = " ".join(groups[:cut])
                end = match.start() + len(digits)
                break
    whole = re.sub(r"[ ,.']", "", digits)
    try:
        value = Decimal(f"{whole}.{decimals}" if decimals else whole)
    except InvalidOperation:
        return None, rest
    return value, rest[: match.start()] + " " + rest[end:]


def _account(rest: str) -> str | None:
    match = _ACCOUNT.search(rest)
    return match.group(0) if match else None


def command_parse(text: str) -> Command:
    """The command in `text`, or HELP (understood=False) when there is none."""
    folded = text_fold(text or "")
    if folded.strip() == "?":
        return Command("help")
    match = _KEYWORD.search(folded)
    if match is None or folded[: match.start()].strip(" \t\r\n.,;:!?*#-_/\"'()[]<>"):
        return HELP_NOT_UNDERSTOOD
    known = KEYWORDS.get(match.group(0))
    if known is None:
        return HELP_NOT_UNDERSTOOD
    name, language = known
    rest = folded[match.end() :]
    if name in ("pay", "read"):
        value, rest = _number(rest)
        field = "amount" if name == "pay" else "index"
        return Command(name, language, account=_account(rest), **{field: value})
    if name in ("bal", "bill"):
        return Command(name, language, account=_account(rest))
    if name == "lang":
        word = _WORD.search(rest)
        return Command(name, language, target_language=LANGUAGE_WORDS.get(word and word.group(0)))
    return Command(name, language)
