from yurt.api.casing import fold, get_field, has_field, pascal_case


def test_get_field_is_case_insensitive_like_go() -> None:
    body = {"name": "web", "deregister_critical_service_after": "1m", "Tags": ["a"]}
    assert get_field(body, "Name") == "web"
    assert get_field(body, "DeregisterCriticalServiceAfter") == "1m"
    assert get_field(body, "Tags") == ["a"]
    assert get_field(body, "Port", 0) == 0
    assert has_field(body, "deregisterCriticalServiceAfter")


def test_exact_match_wins_over_folded() -> None:
    assert get_field({"id": 1, "ID": 2}, "ID") == 2


def test_pascal_case_keeps_initialisms() -> None:
    assert pascal_case("service_id") == "ServiceID"
    assert pascal_case("tls_skip_verify") == "TLSSkipVerify"
    assert pascal_case("http") == "HTTP"
    assert fold("Service-ID") == fold("service_id") == "serviceid"
