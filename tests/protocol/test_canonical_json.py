"""Canonical JSON against the appendix's examples, and parse_json's refusals."""

from __future__ import annotations

import pytest

from protocol.canonical_json import (
    MAX_SAFE_INTEGER,
    MIN_SAFE_INTEGER,
    CanonicalJsonError,
    check_strict_values,
    encode_canonical_json,
    parse_json,
)

# Every "Given the following JSON object ... should be produced" pair of the
# appendices' Canonical JSON "Examples", verbatim.
APPENDIX_EXAMPLES = [
    (
        "{}",
        "{}",
    ),
    (
        """{
    "one": 1,
    "two": "Two"
}""",
        '{"one":1,"two":"Two"}',
    ),
    (
        """{
    "b": "2",
    "a": "1"
}""",
        '{"a":"1","b":"2"}',
    ),
    (
        '{"b":"2","a":"1"}',
        '{"a":"1","b":"2"}',
    ),
    (
        """{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}""",
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        '"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        '{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ),
    (
        """{
    "a": "日本語"
}""",
        '{"a":"日本語"}',
    ),
    (
        """{
    "本": 2,
    "日": 1
}""",
        '{"日":1,"本":2}',
    ),
    (
        """{
    "a": "\\u65E5"
}""",
        '{"a":"日"}',
    ),
    (
        """{
    "a": null
}""",
        '{"a":null}',
    ),
    (
        """{
    "a": -0,
    "b": 1e10
}""",
        '{"a":0,"b":10000000000}',
    ),
]


@pytest.mark.parametrize("given, expected", APPENDIX_EXAMPLES)
def test_appendix_example(given: str, expected: str) -> None:
    # Non-strict parsing: the last example's 1e10 is a float, which strict refuses.
    assert encode_canonical_json(parse_json(given, strict=False)) == expected.encode("utf-8")
    assert (
        encode_canonical_json(parse_json(given.encode("utf-8"), strict=False)) == expected.encode()
    )


@pytest.mark.parametrize("given, expected", APPENDIX_EXAMPLES)
def test_appendix_output_is_a_fixed_point(given: str, expected: str) -> None:
    assert encode_canonical_json(parse_json(expected)) == expected.encode("utf-8")


@pytest.mark.parametrize("given, expected", APPENDIX_EXAMPLES[:-1])
def test_appendix_examples_without_floats_parse_strictly(given: str, expected: str) -> None:
    assert encode_canonical_json(parse_json(given)) == expected.encode("utf-8")


@pytest.mark.parametrize(
    "value, expected",
    [
        # Escapes: exactly the grammar's short forms, \u00XX (lower-case) for
        # other controls, nothing else escaped.
        ({"a": '"\\'}, r'{"a":"\"\\"}'),
        ({"a": "\b\f\n\r\t"}, r'{"a":"\b\f\n\r\t"}'),
        (
            {"a": "\x00\x01\x07\x0b\x0e\x0f\x1a\x1f"},
            r'{"a":"\u0000\u0001\u0007\u000b\u000e\u000f\u001a\u001f"}',
        ),
        ({"a": "/ \x7f \u2028 \u00e9"}, '{"a":"/ \x7f \u2028 \u00e9"}'),
        ({"a": "\U0001f600"}, '{"a":"\U0001f600"}'),
        # Sorted by code point, not by UTF-16 unit (which would put U+1F600 first).
        ({"\U0001f600": 1, "\uffff": 2}, '{"\uffff":2,"\U0001f600":1}'),
        ({"b": 1, "a": 2, "B": 3, "aa": 4, "": 5}, '{"":5,"B":3,"a":2,"aa":4,"b":1}'),
        ({"a": {"d": [3, {"z": 1, "y": 2}], "c": True}}, '{"a":{"c":true,"d":[3,{"y":2,"z":1}]}}'),
        ([1, "two", None, False, True, [], {}], '[1,"two",null,false,true,[],{}]'),
        ("just a string", '"just a string"'),
        (-(2**53) + 1, "-9007199254740991"),
        # Integral floats are written as integers; -0 never appears.
        ({"a": -0.0, "b": 1e10, "c": 2.0}, '{"a":0,"b":10000000000,"c":2}'),
        # Tuples are arrays.
        ((1, 2), "[1,2]"),
    ],
)
def test_encoding(value: object, expected: str) -> None:
    assert encode_canonical_json(value) == expected.encode("utf-8")


def test_encoding_does_not_modify_input() -> None:
    value = {"a": [1.0, {"b": 2.0}]}
    assert encode_canonical_json(value) == b'{"a":[1,{"b":2}]}'
    assert value == {"a": [1.0, {"b": 2.0}]}
    assert isinstance(value["a"][0], float)


def test_non_integral_float_keeps_its_shortest_form() -> None:
    # Only rooms of versions 1-5 can hold these; strict callers refuse them first.
    assert encode_canonical_json({"a": 1.5}) == b'{"a":1.5}'


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"a": float("inf")},
        [float("-inf")],
        {"a": "\ud800"},
        {"\udfff": 1},
        {1: "non-string key"},
        {"a": {1, 2}},
        {"a": b"bytes"},
        object(),
    ],
)
def test_encoding_rejects(value: object) -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json(value)


def test_encoding_rejects_deep_nesting() -> None:
    value: list[object] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json(value)


# --- parse_json -------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b'[{"x":1},{"y":1,"y":2}]',
        b'{"a":"\xff"}',
        b'{"a":"\xc0\xaf"}',  # overlong encoding of "/"
        b'{"a":"\xed\xa0\x80"}',  # UTF-8-encoded surrogate
        b'{"a":"\xe6\x97"}',  # truncated sequence
        b"\xff\xfe{\x00}\x00",  # UTF-16, which json.loads would sniff and accept
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b"NaN",
        b'{"a":"\\ud800"}',
        b'{"a":"\\udc00\\ud83d"}',
        b'{"\\ud800":1}',
        b'["\\uDBFF"]',
        b"",
        b"   ",
        b"{",
        b'{"a":1}x',
        b'{"a":1,}',
        b"[1,]",
        b"{'a':1}",
        b'{"a":"\x01"}',  # raw control character inside a string
        b"\xef\xbb\xbf{}",  # byte order mark
        b'{"a":01}',
        b'{"a":1e400}',  # a float that overflows to infinity
        b'{"a":' + b"9" * 5000 + b"}",  # beyond Python's int-parsing limit
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_parse_rejects(data: bytes, strict: bool) -> None:
    with pytest.raises(CanonicalJsonError) as info:
        parse_json(data, strict=strict)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("strict", [True, False])
def test_parse_rejects_raw_lone_surrogate_in_str_input(strict: bool) -> None:
    with pytest.raises(CanonicalJsonError):
        parse_json('{"a":"\ud800"}', strict=strict)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"a":"\\ud83d\\ude00"}', {"a": "\U0001f600"}),
        (b'{"a":"\\\\ud800"}', {"a": "\\ud800"}),  # an escaped backslash, not a surrogate
        (b'{"a":"\xf0\x9f\x98\x80"}', {"a": "\U0001f600"}),
        (b' {"a" : [1, 2] } \n', {"a": [1, 2]}),
        (b'"\\u0000"', "\x00"),
        (b"-0", 0),
        (b"null", None),
        (b'{"a":{},"b":[]}', {"a": {}, "b": []}),
        (b'{"a":1,"A":2}', {"a": 1, "A": 2}),  # keys are case-sensitive, not duplicates
    ],
)
def test_parse_accepts(data: bytes, expected: object, strict: bool) -> None:
    assert parse_json(data, strict=strict) == expected


@pytest.mark.parametrize(
    "data, lenient_value",
    [
        (b'{"a":1.5}', {"a": 1.5}),
        (b'{"a":1.0}', {"a": 1.0}),
        (b'{"a":1e10}', {"a": 1e10}),
        (b'{"a":-0.0}', {"a": -0.0}),
        (b'{"a":[0.1]}', {"a": [0.1]}),
        (b'{"a":9007199254740992}', {"a": 2**53}),
        (b'{"a":-9007199254740992}', {"a": -(2**53)}),
        (b'{"a":18446744073709551616}', {"a": 2**64}),
        (b'{"a":-99999999999999999999999}', {"a": -99999999999999999999999}),
    ],
)
def test_strict_rejects_what_lenient_accepts(data: bytes, lenient_value: object) -> None:
    with pytest.raises(CanonicalJsonError):
        parse_json(data)
    with pytest.raises(CanonicalJsonError):
        parse_json(data, strict=True)
    assert parse_json(data, strict=False) == lenient_value


@pytest.mark.parametrize("n", [MAX_SAFE_INTEGER, MIN_SAFE_INTEGER, 0, 1, -1])
def test_strict_accepts_integers_in_range(n: int) -> None:
    assert parse_json(f'{{"n":{n}}}') == {"n": n}


def test_parse_accepts_str_and_bytearray() -> None:
    assert parse_json('{"a":"日"}') == {"a": "日"}
    assert parse_json(bytearray(b'{"a":1}')) == {"a": 1}


def test_parse_rejects_non_text() -> None:
    with pytest.raises(CanonicalJsonError):
        parse_json(123)  # type: ignore[arg-type]


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_json(b"{")


# --- check_strict_values ----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": [1, "x", None, True, False, {"b": MAX_SAFE_INTEGER}]},
        MIN_SAFE_INTEGER,
        "string",
        None,
        (1, 2),
    ],
)
def test_strict_values_accepted(value: object) -> None:
    check_strict_values(value)


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        {"a": 1.5},
        {"a": [0, {"b": -0.0}]},
        float("nan"),
        {"a": float("inf")},
        2**53,
        -(2**53),
        {"deep": [[[[2**63]]]]},
        {1: "x"},
        {"a": {1, 2}},
        {"a": b"x"},
    ],
)
def test_strict_values_rejected(value: object) -> None:
    with pytest.raises(CanonicalJsonError):
        check_strict_values(value)


def test_strict_values_handles_deep_nesting() -> None:
    value: list[object] = [1.5]
    for _ in range(100_000):
        value = [value]
    with pytest.raises(CanonicalJsonError):
        check_strict_values(value)
