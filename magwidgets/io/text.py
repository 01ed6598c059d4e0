"""Uploaded bytes as text: what every reader of a user's CSV file needs first."""
from __future__ import annotations


def utf8_text(data: bytes) -> str:
    """The UTF-8 text of uploaded bytes (a byte-order mark, as spreadsheets write it, is dropped).

    Raises ValueError saying what the bytes are instead: UTF-16 (a spreadsheet's "Unicode text"), or not text.
    """
    data = bytes(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError("not text in UTF-8 but in UTF-16 (a spreadsheet's \"Unicode text\"; save it as \"CSV UTF-8\")")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise ValueError("not text (binary data, or an encoding other than UTF-8)")
    return text
