"""Fitting a screen to the gateway's limit: long screens are cut into pages ("98 More").

A page is whole lines of the screen, then "98 More" unless it is the last, then the
navigation line. Numbered options keep their numbers across pages, so a screen maps an
answer to an option whatever page the customer was looking at. A single line longer than a
page (it should never happen: a test renders every screen) is cut, so the gateway never gets
more than it can show.
"""


def _join(lines: list[str]) -> str:
    return "\n".join(line for line in lines if line)


def pages(body: str, *, footer: str, more: str, limit: int) -> list[str]:
    """`body` plus `footer` cut into pages of at most `limit` characters each."""
    whole = _join([body, footer])
    if len(whole) <= limit:
        return [whole]
    chunks: list[list[str]] = [[]]
    for line in body.split("\n"):
        candidate = [*chunks[-1], line]
        if chunks[-1] and len(_join([*candidate, more, footer])) > limit:
            chunks.append([line])
        else:
            chunks[-1] = candidate
    laid = [_join([*chunk, more, footer]) for chunk in chunks[:-1]]
    laid.append(_join([*chunks[-1], footer]))
    return [page if len(page) <= limit else page[:limit] for page in laid]
