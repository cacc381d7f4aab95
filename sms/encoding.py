"""How many SMS a text costs: GSM-7 or UCS-2, and the number of segments (3GPP TS 23.038).

GSM-7 packs 160 characters in one SMS; its extension table (^ { } [ ] ~ | \\ € and form feed)
costs two septets per character. Anything outside GSM-7 makes the whole message UCS-2: 70
UTF-16 code units in one SMS. A longer message is split into segments that each give up room
to a concatenation header: 153 septets (GSM-7) or 67 code units (UCS-2), and an escape pair or
a surrogate pair is never split across two segments.
"""

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "gsm7"
UCS2 = "ucs2"
# (one-segment limit, per-segment limit of a concatenated message), in units of the encoding.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsSize:
    encoding: str
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_widths(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_size(text: str) -> SmsSize:
    """The encoding, length in units and segment count of `text` (an empty text is 1 SMS)."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    widths = _unit_widths(text, encoding)
    units = sum(widths)
    single, per_segment = LIMITS[encoding]
    if units <= single:
        return SmsSize(encoding, units, 1)
    segments, used = 1, 0
    for width in widths:
        if used + width > per_segment:  # this character starts the next segment, whole
            segments, used = segments + 1, 0
        used += width
    return SmsSize(encoding, units, segments)
