"""Email and phone normalisation on tricky inputs."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from canalis.mappings.normalize import email_key, is_role_address, normalize_email, normalize_phone, phone_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jean.Martin@Orange.FR ", "jean.martin@orange.fr"),
        ("Jean.Martin+promo@GMail.com", "jeanmartin@gmail.com"),
        ("j.e.a.n@googlemail.com", "jean@gmail.com"),
        ("jean.martin+promo@orange.fr", "jean.martin+promo@orange.fr"),
        ("mailto:anne@free.fr", "anne@free.fr"),
        ("<anne@free.fr>", "anne@free.fr"),
        ("o'brien@example.co.uk", "o'brien@example.co.uk"),
    ],
)
def test_valid_emails_are_trimmed_lowered_and_gmail_rules_applied(raw: str, expected: str) -> None:
    result = normalize_email(raw)
    assert result.valid, result.reason
    assert result.value == expected
    assert result.raw == raw


@pytest.mark.parametrize(
    "raw", ["jean..martin@free.fr", "jean@free", "jean@localhost", "@free.fr", "jean@", "jean martin@free.fr",
            "x@site.test", "a@b@c.fr", ".jean@free.fr"],
)  # fmt: skip
def test_invalid_emails_are_flagged_not_guessed(raw: str) -> None:
    result = normalize_email(raw)
    assert not result.valid
    assert result.reason and result.reason.startswith("syntax")
    assert result.value == raw.strip().lower()
    assert email_key(raw) is None


def test_empty_email() -> None:
    for raw in (None, "", "   "):
        result = normalize_email(raw)
        assert (result.value, result.valid, result.reason) == (None, False, "empty")


def test_unicode_email_goes_through_email_validator() -> None:
    result = normalize_email("Zoé@Exemple.fr")
    assert result.valid
    assert result.value == "zoé@exemple.fr"


def test_provider_rules_can_be_switched_off() -> None:
    assert normalize_email("J.Martin+x@gmail.com", provider_rules=False).value == "j.martin+x@gmail.com"


def test_role_addresses() -> None:
    assert is_role_address("contact@acme.fr")
    assert is_role_address("info+shop@acme.fr")
    assert not is_role_address("jean.contact@acme.fr")
    assert not is_role_address(None)


@pytest.mark.parametrize(
    "raw",
    ["06 12 34 56 78", "06.12.34.56.78", "0612345678", "+33 6 12 34 56 78", "+33612345678", "0033612345678",
     "+33 (0)6 12 34 56 78", "33612345678", "(06) 12-34-56-78"],
)  # fmt: skip
def test_french_mobile_forms_give_one_e164(raw: str) -> None:
    result = normalize_phone(raw)
    assert result.valid, result.reason
    assert result.value == "+33612345678"


def test_foreign_numbers_and_regions() -> None:
    assert normalize_phone("+44 20 7946 0958").value == "+442079460958"
    assert normalize_phone("020 7946 0958", "GB").value == "+442079460958"
    assert normalize_phone("0470 12 34 56", "BE").value == "+32470123456"
    assert normalize_phone("447911123456").value == "+447911123456"


@pytest.mark.parametrize("raw", ["0612", "+33 1 23", "12345", "abc", "06 12 34 56 78 99 99"])
def test_impossible_phones_are_invalid(raw: str) -> None:
    result = normalize_phone(raw)
    assert not result.valid
    assert result.reason
    assert phone_key(raw) == (None, False)


def test_unallotted_number_is_invalid_but_spelled_in_e164_for_matching() -> None:
    national = normalize_phone("06 92 72 05 65")
    international = normalize_phone("+33 6 92 72 05 65")
    number = phonenumbers.parse("+33692720565")
    assert not phonenumbers.is_valid_number(number)
    assert (national.valid, national.reason) == (False, "invalid_number")
    assert national.value == international.value == "+33692720565"
    assert phone_key("0692720565") == ("+33692720565", False)


@pytest.mark.parametrize("region", ["FR", "GB", "DE", "BE", "ES", "US", "CH"])
def test_fast_path_agrees_with_phonenumbers(region: str) -> None:
    rng = random.Random(region)
    code = phonenumbers.country_code_for_region(region)
    for _ in range(400):
        national = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(7, 10)))
        for text in (f"+{code} {national}", f"00{code}{national}", f"0{national}"):
            ours = normalize_phone(text, region)
            try:
                parsed = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                assert not ours.valid
                continue
            valid = phonenumbers.is_valid_number(parsed)
            assert ours.valid == valid, text
            if valid:
                assert ours.value == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize("code", [33, 44, 1, 49, 32, 262, 7, 39, 61])
def test_compiled_plans_agree_with_phonenumbers(code: int) -> None:
    from canalis.mappings.normalize.phones import is_valid_national

    rng = random.Random(code)
    for _ in range(1500):
        national = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 11)))
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        ours = is_valid_national(code, national)
        assert ours is None or ours == phonenumbers.is_valid_number(number), (code, national)


@pytest.mark.parametrize("region", ["FR", "GB", "DE", "BE"])
def test_country_code_without_plus_agrees_with_phonenumbers(region: str) -> None:
    rng = random.Random(f"bare-{region}")
    code = str(phonenumbers.country_code_for_region(region))
    for _ in range(600):
        text = code + str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 10)))
        ours = normalize_phone(text, region)
        parsed = phonenumbers.parse(text, region)
        assert ours.valid == phonenumbers.is_valid_number(parsed), text
        if ours.valid:
            assert ours.value == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), text


@pytest.mark.parametrize("code", [33, 44, 1, 49, 262])
def test_possible_lengths_agree_with_phonenumbers(code: int) -> None:
    from canalis.mappings.normalize.phones import is_possible_national

    rng = random.Random(f"possible-{code}")
    for _ in range(300):
        national = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 13)))
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        assert is_possible_national(code, national) == phonenumbers.is_possible_number(number), (code, national)


def test_email_fast_path_agrees_with_email_validator_on_international_local_parts() -> None:
    from email_validator import EmailNotValidError, validate_email

    from canalis.mappings.normalize.emails import _normalize_text

    rng = random.Random(7)
    # accented Latin, German, Greek, Cyrillic, CJK, digits of other scripts, superscripts, combining marks, spaces
    pool = "abcxyz0129.+_-'éèêëàçôîïüñßøåæœǆﬁαβγжщ日本ªº²٣ⅷ\u0301\u00a0 "
    agreed = 0
    for _ in range(3000):
        local = "".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
        text = f"{local}@example.fr"
        ours = _normalize_text(text, False)
        try:
            checked = validate_email(text.lower(), check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError:
            assert not ours[1], text
            continue
        assert ours[1], text
        assert ours[0] == f"{checked.local_part.lower()}@{checked.domain.lower()}", text
        agreed += 1
    assert agreed > 300  # enough valid addresses were compared


def test_a_long_international_address_that_fails_the_fast_path_still_gets_an_answer() -> None:
    # each ASCII letter could once be read two ways by the fast path, so a failed match took 2^n steps
    result = normalize_email("é" + "a" * 60 + "!x@exemple")
    assert not result.valid
    assert normalize_email("jeanfrançois.dupontmoreau@société.fr").valid


def test_a_result_is_true_only_when_valid_and_cannot_be_changed() -> None:
    from canalis.mappings.normalize.emails import normalize_email

    good, bad = normalize_email("Ann@Example.org"), normalize_email("not an email")
    assert good and good.value == "ann@example.org"
    assert not bad and bad.valid is False and bad.reason
    with pytest.raises(AttributeError):
        good.value = "other@example.org"  # type: ignore[misc]
