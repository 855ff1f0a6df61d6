"""The corrections wrappers.server.launch applies to Seldon (bind behaviour: test_http_attacks)."""

import grpc
import pytest

from wrappers.errors import grpc_status
from wrappers.server.bind import address, rehost


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1:9000"), ("::1", "[::1]:9000"), ("0.0.0.0", "0.0.0.0:9000")],
)
def test_seldons_hard_coded_host_is_replaced_and_its_port_kept(host, expected):
    assert rehost("0.0.0.0:9000", host) == expected
    assert address(host, 9000) == expected


@pytest.mark.parametrize(
    ("http_status", "code"),
    [
        (400, grpc.StatusCode.INVALID_ARGUMENT),
        (404, grpc.StatusCode.NOT_FOUND),
        (413, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (422, grpc.StatusCode.INVALID_ARGUMENT),
        (503, grpc.StatusCode.UNAVAILABLE),
        (500, grpc.StatusCode.INTERNAL),
        (502, grpc.StatusCode.INTERNAL),
    ],
)
def test_errors_map_to_one_grpc_status_code_for_both_grpc_services(http_status, code):
    assert grpc_status(http_status) == code
