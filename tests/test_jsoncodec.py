"""Stored documents keep money exact: Decimals go in and come back as Decimals."""

from decimal import Decimal

import pytest

from fs_cgr.jsoncodec import decode, encode, encode_stepwise


def test_decimals_are_written_as_exact_numbers():
    doc = {"Cost": Decimal("0.70020000"), "Big": Decimal("123456789012345678901234.5")}
    text = encode(doc)
    assert text == '{"Cost":0.70020000,"Big":123456789012345678901234.5}'
    assert decode(text) == doc
    assert isinstance(decode(text)["Cost"], Decimal)


def test_plain_json_values_roundtrip():
    doc = {"s": 'é "quoted"', "i": 10**20, "b": [True, False, None], "nested": {"l": [1, "2"]}}
    assert decode(encode(doc)) == doc


def test_fractions_read_back_as_decimal_never_float():
    assert decode(encode({"rate": 0.1})) == {"rate": Decimal("0.1")}
    assert decode(encode([Decimal("1E+2"), Decimal("-0.00")])) == [
        Decimal("1E+2"),
        Decimal("-0.00"),
    ]


@pytest.mark.parametrize(
    "value",
    [
        {"x": Decimal("NaN")},
        {"x": Decimal("Infinity")},
        {"x": float("inf")},
        {"x": {1, 2}},
        {"x": object()},
        {(1, 2): "tuple key"},
    ],
)
def test_values_json_cannot_hold_exactly_are_refused(value):
    with pytest.raises(ValueError):
        encode(value)
    with pytest.raises(ValueError):
        encode_stepwise(value)


def test_the_stepwise_encoder_writes_the_same_text():
    doc = {
        "ID": "DR_ü",
        "Rows": [
            {"Rate": Decimal("0.0125"), "N": n, "F": 1.5, "Ok": n % 2 == 0} for n in range(50)
        ],
        "Empty": [],
        "None": None,
        "Text": 'quote " and \\u0000 and \n',
    }
    assert encode_stepwise(doc) == encode(doc)
    assert decode(encode_stepwise(doc))["Rows"][3] == {
        "Rate": Decimal("0.0125"),
        "N": 3,
        "F": Decimal("1.5"),
        "Ok": False,
    }


def test_strings_that_look_like_decimal_markers_stay_strings():
    for text in ("\x00fscgr:1", "\x00" + "0" * 16 + ":2", "\\u0000abc:3"):
        doc = {"real": Decimal("1.5"), "text": text}
        assert decode(encode(doc)) == doc


def test_a_circular_value_is_refused_and_the_encoder_still_works_after():
    loop = {"x": []}
    loop["x"].append(loop)
    with pytest.raises(ValueError):
        encode(loop)
    shared = {"Cost": Decimal("0.01")}
    assert encode([shared, shared, {"again": shared}]) == (
        '[{"Cost":0.01},{"Cost":0.01},{"again":{"Cost":0.01}}]'
    )
