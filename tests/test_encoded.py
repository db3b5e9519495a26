"""fs_cgr.encoded: a document's kept JSON text is what encoding it gives, also spliced into
a list; a session debit's idempotency record and journal note share one text."""

from decimal import Decimal

from fs_cgr import jsoncodec
from fs_cgr.accounts.debit import Charge, Debit
from fs_cgr.encoded import EncodedDict, json_text


def _debit() -> Debit:
    charge = Charge(0, 10**9, 10, Decimal("0.01"), "uuid-1", "", Decimal(0))
    return Debit(10 * 10**9, 10 * 10**9, Decimal("0.1"), [charge], False, "t", "1001", "k:1")


def test_a_list_holding_encoded_dicts_encodes_as_before():
    doc = _debit().to_doc()
    note = [0, 1, 0, doc, "2026-12-06T10:00:00.5Z", None, True, Decimal("1.50"), ["x", doc]]
    plain = [dict(item) if item.__class__ is EncodedDict else item for item in note]
    plain[-1] = ["x", dict(doc)]
    assert json_text(note) == jsoncodec.encode(plain)
    assert doc.text is not None  # kept: the next list holding it splices it in
    doc.text = '{"spliced":1}'
    assert json_text([1, doc]) == '[1,{"spliced":1}]'


def test_a_debit_gives_one_document_encoded_once():
    debit = _debit()
    assert debit.to_doc() is debit.to_doc()
    assert json_text(debit.to_doc()) == jsoncodec.encode(dict(debit.to_doc()))
    assert Debit.from_doc(jsoncodec.decode(json_text(debit.to_doc()))) == debit
