"""Label selectors: Kubernetes syntax and semantics, and errors that point at the problem."""

from __future__ import annotations

import pytest

from kiln.resources import ResourceError, Selector, SelectorError

LABELS = {"role": "controlplane", "zone": "a", "empty": ""}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("role=controlplane", True),
        ("role==controlplane", True),
        ("role=worker", False),
        ("role!=worker", True),
        ("missing!=x", True),  # as in Kubernetes: != also matches a missing key
        ("role", True),
        ("missing", False),
        ("!missing", True),
        ("!role", False),
        ("zone in (a,b)", True),
        ("zone in (b, c)", False),
        ("missing in (a)", False),
        ("zone notin (b,c)", True),
        ("missing notin (a)", True),
        ("zone notin (a)", False),
        ("empty=", True),
        ("role=controlplane, zone in (a,b), !cordoned", True),
        ("role=controlplane,zone=b", False),
        ("  role = controlplane  ", True),
        ("node.kiln.dev/role", False),
    ],
)
def test_selector_matching(text: str, matches: bool) -> None:
    assert Selector.parse(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("role=a=b", "expected ',', found '=' at offset 6"),
        ("zone in a", "expected '(', found 'a' at offset 8"),
        ("zone in (a,", "unexpected end at offset 11"),
        ("zone in ()", "expected a value, found ')' at offset 9"),
        (",role", "expected a label key, found ',' at offset 0"),
        ("role,", "unexpected end at offset 5"),
        ("role worker", "expected an operator after 'role', found 'worker' at offset 5"),
        ("!", "unexpected end at offset 1"),
        ("a=(b)", "expected ',', found '(' at offset 2"),
    ],
)
def test_selector_errors_name_the_text_and_the_position(text: str, where: str) -> None:
    with pytest.raises(SelectorError) as caught:
        Selector.parse(text)
    assert isinstance(caught.value, ResourceError)
    assert str(caught.value) == f"invalid label selector {text!r}: {where}"
    assert caught.value.text == text


def test_selector_text_round_trips() -> None:
    selector = Selector.parse("role=cp,zone in (a,b),!cordoned,ready,tier!=db,x notin (y)")
    assert str(selector) == "role=cp,zone in (a,b),!cordoned,ready,tier!=db,x notin (y)"
    assert Selector.parse(str(selector)) == selector
    assert Selector.equal({"role": "cp", "zone": "a"}) == Selector.parse("role=cp,zone=a")
