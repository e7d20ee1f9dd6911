import pytest

from tokens.headers import MalformedAuthorization, credential_from_authorization


@pytest.mark.parametrize(
    "header",
    [b"Token abc", b"Bearer abc", b"token abc", b"BEARER abc", b"  Token \t abc  "],
)
def test_token_and_bearer_in_any_case_carry_the_credential(header):
    assert credential_from_authorization(header) == "abc"


@pytest.mark.parametrize("header", [b"", b"   ", b"Basic dXNlcjpwYXNz", b"Digest a b c", b"abc"])
def test_empty_or_another_scheme_is_not_ours(header):
    assert credential_from_authorization(header) is None


@pytest.mark.parametrize("header", [b"Token", b"Bearer", b"Token a b", b"bearer a b c"])
def test_our_keyword_without_exactly_one_credential_is_malformed(header):
    with pytest.raises(MalformedAuthorization):
        credential_from_authorization(header)


def test_only_ascii_whitespace_separates():
    # A no-break space (0xa0) is part of the credential, on HTTP and WebSocket alike.
    assert credential_from_authorization(b"Token a\xa0b") == "a\xa0b"


def test_credential_is_decoded_as_latin1():
    assert credential_from_authorization("Token caf\u00e9".encode("latin1")) == "caf\u00e9"
