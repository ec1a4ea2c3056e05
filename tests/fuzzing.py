"""What the property-based tests share: strategies for hostile text, and the checks every refusal passes."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import strategies as st

from tests.helpers import CliResult
from trails.core.errors import TrailsError

# Characters that break things: separators, quotes, shell and git metacharacters, controls (NUL
# included), non-ASCII letters and digits, a lone surrogate (what Python makes of a non-UTF-8 byte
# in argv or the environment), a combining mark, a right-to-left override.
NASTY = "-_./:@{}~^?*[]\\ \t\n\r\x00\x01\x1b\x7f'\"$`;&|<>()!#%=,+éÉß١\u0301\u202e\udcff\ud800"

# Text shaped like the input, and text that is anything: most bugs hide near the valid forms.
nasty_char = st.sampled_from(NASTY) | st.characters(min_codepoint=0x20, max_codepoint=0x7e)
nasty_text = st.lists(nasty_char, max_size=24).map("".join) | st.text(max_size=24) | \
    st.text(st.characters(exclude_categories=()), max_size=12)  # every code point, surrogates included

# The bounds of every property-based test: enough examples to find the usual suspects, few enough
# that all of them together add well under a minute to CI. `deadline=None`: a subprocess or a git
# call per example varies with the machine's load; the suite's timeout still holds.
# FUZZ_SCALE=20 multiplies them for a longer hunt by hand.
_SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
FAST = {"max_examples": 200 * _SCALE, "deadline": None}
SLOW = {"max_examples": 8 * _SCALE, "deadline": None}  # each example runs the real CLI (a process or more)


def refused(exc: TrailsError, code: str, *, field: str | None = None) -> None:
    """A refusal that a script and a form can use: the stable code, a message, the field to blame."""
    assert exc.code == code, (exc.code, exc.message)
    assert exc.message and "Traceback" not in exc.message
    if field is not None:
        assert exc.field == field, (exc.field, exc.message)


def no_traceback(res: CliResult) -> None:
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr[-3000:]


def cli_refused(res: CliResult, *codes: str) -> dict[str, str]:
    """A `--json` command that failed with one of `codes`, said as one error object and nothing else."""
    no_traceback(res)
    assert res.code != 0, res.stdout
    error = res.error
    assert error["code"] in codes, error
    assert error["message"], error
    return error


def from_schema(kind: type, strings: st.SearchStrategy[str] = nasty_text,
                overrides: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[Any]:
    """JSON-like values of a msgspec type, as a file would hold them: every key optional, numbers
    mostly inside their bounds and sometimes anywhere, strings from `strings`. Values of the right
    shape get past the type checks to the checks and code behind them. `overrides` gives the values
    of some keys (by name, at any depth)."""
    import msgspec

    return _strategy(msgspec.inspect.type_info(kind), strings, overrides or {})


def _strategy(t: Any, strings: st.SearchStrategy[str], overrides: dict[str, st.SearchStrategy[Any]],
              ) -> st.SearchStrategy[Any]:
    import msgspec

    mi = msgspec.inspect
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.IntType):
        low = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else None)
        high = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else None)
        return st.integers(low, high) | st.integers(-2**70, 2**70)
    if isinstance(t, mi.FloatType):
        bounded = st.floats(t.ge if t.ge is not None else t.gt, t.le if t.le is not None else t.lt,
                            exclude_min=t.gt is not None, exclude_max=t.lt is not None, allow_nan=False)
        return bounded | st.floats(allow_nan=False) | st.integers(-10, 10)
    if isinstance(t, mi.StrType):
        return strings
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.ListType):
        return st.lists(_strategy(t.item_type, strings, overrides), max_size=3)
    if isinstance(t, mi.DictType):
        return st.dictionaries(_strategy(t.key_type, strings, overrides),
                               _strategy(t.value_type, strings, overrides), max_size=3)
    if isinstance(t, mi.UnionType):
        return st.one_of(*[_strategy(x, strings, overrides) for x in t.types])
    if isinstance(t, mi.StructType):
        def field(f: Any) -> st.SearchStrategy[Any]:
            given = overrides.get(f.encode_name)
            return given if given is not None else st.deferred(lambda: _strategy(f.type, strings, overrides))

        return st.fixed_dictionaries({f.encode_name: field(f) for f in t.fields if f.required},
                                     optional={f.encode_name: field(f) for f in t.fields if not f.required})
    return st.none() | st.integers() | strings  # Any
