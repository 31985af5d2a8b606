"""The unified social credit code's check (GB 32100-2015) on codes known to be valid:
the standard's own example and companies' published codes, each also with one character
corrupted. The expected check characters come from the codes as issued, not from the
function under test."""

from __future__ import annotations

import pytest

from reservation.interception.taxid import CHARSET, problem

VALID = [
    "91350100M000100Y43",  # the example printed in GB 32100-2015
    "914403001922038216",  # Huawei Technologies Co., Ltd.
    "9144030071526726XG",  # Shenzhen Tencent Computer Systems Co., Ltd.
    "91110108551385082Q",  # Beijing Xiaomi Technology Co., Ltd.
    "91330100799655058B",  # Alibaba (China) Co., Ltd.
]


@pytest.mark.parametrize("code", VALID)
def test_codes_as_issued_are_valid(code: str) -> None:
    assert problem(code) == ""
    assert problem(code.lower()) == ""  # typed in lower case: the same code


@pytest.mark.parametrize("code", VALID)
@pytest.mark.parametrize("position", [4, 12, 17])
def test_one_corrupted_character_is_caught(code: str, position: int) -> None:
    # Any single substitution changes the weighted sum by a non-multiple of 31 (the
    # weights are powers of 3, prime to 31), so the check must fail.
    replacement = next(c for c in "0123456789" if c != code[position])
    corrupted = code[:position] + replacement + code[position + 1:]
    assert "check character" in problem(corrupted)


@pytest.mark.parametrize(("code", "why"), [
    ("91350100M000100Y4", "17 characters"),
    ("91350100M000100Y431", "19 characters"),
    ("91350100M000100I43", "'I'"),          # I, O, Z, S, V are not in the set
    ("01350100M000100Y43", "registration authority"),
    ("9135A100M000100Y43", "administrative division"),
    ("", "0 characters"),
])
def test_malformed_codes_say_why(code: str, why: str) -> None:
    assert why in problem(code)


def test_the_character_set_has_31_characters_without_i_o_z_s_v() -> None:
    assert len(CHARSET) == 31 and not set("IOZSV") & set(CHARSET)
