"""Telling a retired v3 create endpoint apart from ordinary refusals (pure rule, table-driven)."""

from __future__ import annotations

import pytest

from bot.akool.gone import create_api_gone, says_endpoint_gone

GONE = [
    # (http_status, code, msg): a missing route, in the shapes a retirement might take.
    (404, None, "404 page not found"),
    (404, None, ""),
    (410, None, "Gone"),
    (410, 410, "Gone"),
    (404, 404, "Not Found"),
    (200, 404, "Not Found"),
    (200, 410, "resource gone"),
    (404, 1, "route not found"),  # an envelope, but not one of AKOOL's documented codes
    (200, 1003, "This API has been deprecated. Please use the v4 API instead."),
    (200, 1010, "Deprecated"),
    (200, 1009, "this interface is discontinued"),
    (200, 1008, "The interface is no longer available"),
    (200, 9999, "end of life"),
    (200, 1003, "please use createBySourcePrompt"),
    (200, 1003, "migrate to v4"),
    (200, 1003, "interface offline"),
    (200, 1010, "This API version is unavailable"),
    (200, 1010, "v3 create has been removed"),
    (400, 1003, "unsupported api version"),
]

ORDINARY = [
    # A bad prompt, no credits, throttling, a passing outage: none of these may switch APIs.
    (200, 1003, "prompt cannot be empty"),
    (200, 1003, "validate error: scale"),
    (200, 1003, "Parameter error"),
    (200, 1104, "Insufficient credit balance"),
    (200, 1006, "Insufficient quota balance"),
    (200, 1005, "Frequent operation"),
    (200, 1108, "image generate error, please try again later"),
    (200, 1101, "Invalid authorization or token expired"),
    (200, 1200, "Account blocked"),
    (500, None, "Internal Server Error"),
    (503, None, "Service Temporarily Unavailable"),
    (502, None, "<html><body>Bad gateway</body></html>"),
    (200, 1108, "The image API is temporarily unavailable, try again later"),
    (200, 1108, "interface unavailable during maintenance"),
    (404, 1008, "Content does not exist"),  # AKOOL named the problem: not a missing route
    (404, 1003, "prompt cannot be empty"),
    (200, 1003, "The service is unavailable"),  # not said of the endpoint
    (200, 1010, "This content cannot be operated"),
]


@pytest.mark.parametrize(("http_status", "code", "msg"), GONE)
def test_gone(http_status, code, msg):
    assert create_api_gone(http_status=http_status, code=code, msg=msg)


@pytest.mark.parametrize(("http_status", "code", "msg"), ORDINARY)
def test_not_gone(http_status, code, msg):
    assert not create_api_gone(http_status=http_status, code=code, msg=msg)


@pytest.mark.parametrize(
    "prompt",
    ["a deprecated robot", "an API no longer available", "use v4 style", "interface offline"],
)
def test_an_error_quoting_the_prompt_is_not_read_as_akool_words(prompt: str):
    msg = f"prompt contains sensitive words: {prompt}"

    assert says_endpoint_gone(msg)  # the words alone would trip the rule...
    assert not create_api_gone(http_status=200, code=1003, msg=msg, quoted=[prompt])  # ...not here
