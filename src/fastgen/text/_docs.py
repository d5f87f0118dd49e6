"""Docstring entries that several vectorizers share word for word, written once.

Each class's docstring holds ``{{name}}`` where a shared entry goes; the class is
decorated with ``fastgen._docstrings.fill(**SHARED)``.
"""

from __future__ import annotations

__all__ = ["SHARED"]


SHARED: dict[str, str] = {
    "input": r"""
input : {"content", "filename", "file"}, default="content"
    What each item of the documents passed to ``fit`` and ``transform`` is:
    the text itself as ``str`` or ``bytes`` (``"content"``), the path of a
    file to read (``"filename"``), or an object with a ``read()`` method,
    such as an open file (``"file"``).""",
    "encoding": r"""
encoding : str, default="utf-8"
    Codec used to decode documents that are ``bytes`` (and files, which are
    read as bytes). Must be a text encoding known to Python's ``codecs``.""",
    "decode_error": r"""
decode_error : {"strict", "ignore", "replace"}, default="strict"
    What decoding does with bytes that are not valid in ``encoding``: raise
    ``UnicodeDecodeError`` (``"strict"``), drop them (``"ignore"``), or put
    the replacement character U+FFFD in their place (``"replace"``).""",
    "strip_accents": r"""
strip_accents : {"ascii", "unicode"} or callable, default=None
    Accent removal applied to each document after lower-casing:
    :func:`strip_accents_ascii` (``"ascii"``), :func:`strip_accents_unicode`
    (``"unicode"``), your own ``str -> str`` function, or none (None). It runs
    in Python on every document before the compiled tokenizer. Ignored when
    ``preprocessor`` is given.""",
    "lowercase": r"""
lowercase : bool, default=True
    Convert documents to lower case before tokenizing; the terms of a given
    ``vocabulary`` should then be lower case too (a warning says when they are
    not). Done in the compiled kernel when no ``preprocessor`` or
    ``strip_accents`` is set, in Python otherwise. Ignored when
    ``preprocessor`` is given.""",
    "preprocessor": r"""
preprocessor : callable, default=None
    Function ``str -> str`` applied to each decoded document instead of the
    built-in lower-casing and accent stripping (which are then not applied).
    It runs in Python; the tokenizing after it stays compiled when the
    analyzer allows. Not used with a callable ``analyzer``.""",
    "tokenizer": r"""
tokenizer : callable, default=None
    Function ``str -> list of tokens`` that replaces ``token_pattern`` for the
    ``"word"`` analyzer; stop words and n-grams are then applied to its
    tokens. A tokenizer makes the analysis run in Python.""",
    "stop_words": r"""
stop_words : {"english"}, list of str or None, default=None
    Words removed from the tokens before n-grams are formed, with the
    ``"word"`` analyzer only: ``"english"`` (scikit-learn's English list,
    which needs scikit-learn installed), your own collection of words (not an
    iterator), or none. The words are compared with preprocessed tokens, so
    with ``lowercase=True`` they should be lower case; a warning says when
    tokenizing the list itself gives tokens not in it. Stop-word removal runs
    in the compiled kernel.""",
    "token_pattern": r"""
token_pattern : str or None
    Regular expression that a token matches, for the ``"word"`` analyzer
    without ``tokenizer``. The default, ``r"(?u)\b\w\w+\b"``, takes runs of
    two or more word characters (letters, digits, underscore), so punctuation
    and white space separate tokens and one-character words are dropped.
    With one capturing group, the group's text is the token; more than one
    group is an error.
    The default and ``(?u)\b\w+\b`` (tokens of one or more characters) are
    compiled; any other pattern runs Python's ``re``. Not used (with a
    warning) when ``tokenizer`` is given.""",
    "analyzer": r"""
analyzer : {"word", "char", "char_wb"} or callable, default="word"
    How a preprocessed document becomes terms: word n-grams of its tokens
    (``"word"``), character n-grams of the whole text with runs of white
    space collapsed to one space (``"char"``), or character n-grams taken
    inside each word padded with one space on each side (``"char_wb"``, so
    no n-gram spans two words). A callable receives each decoded document
    (no preprocessing) and returns its terms; it runs in Python.""",
    "min_df": r"""
min_df : float in [0.0, 1.0] or int, default=1
    Leave out of the vocabulary the terms that occur in fewer documents than
    this: a fraction of the documents (float) or a number of documents (int).
    Not used with a given ``vocabulary``.""",
    "max_features": r"""
max_features : int, default=None
    Keep only this many terms: those with the highest total counts over the
    whole corpus, after ``max_df`` and ``min_df``. None keeps every term. Not
    used with a given ``vocabulary``.""",
    "ngram_range": r"""
ngram_range : tuple (min_n, max_n), default=(1, 1)
    Lengths of the n-grams that become terms, both bounds included, with
    ``1 <= min_n <= max_n``: runs of consecutive tokens joined by a space for
    the ``"word"`` analyzer, substrings of that many characters for
    ``"char"`` and ``"char_wb"``. Not used with a callable ``analyzer``.""",
}
