"""The pages' infrastructure over real HTTP: our own static files, cached for a year, and one
Content Security Policy that admits no other origin."""

from __future__ import annotations

import re

from entrypoints.http.pages import page_headers, static_url
from tests.api.conftest import Service


async def test_static_file_is_served_with_a_year_of_immutable_caching(service: Service) -> None:
    url = static_url("page.css")
    assert re.fullmatch(r"/static/page\.css\?v=[0-9a-f]{12}", url)
    response = await service.client.get(url)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.content_type == "text/css"
    assert ":focus-visible" in await response.text()


async def test_missing_static_file_is_a_problem_404(service: Service) -> None:
    response = await service.client.get("/static/nothing-here.js")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert "Cache-Control" not in response.headers


def test_page_policy_admits_only_our_origin_and_the_configured_frame_ancestors() -> None:
    policy = page_headers(("https://app.clinic.example",))["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'self' https://app.clinic.example"
    assert "http" not in policy.replace("https://app.clinic.example", "")
    assert page_headers(())["Content-Security-Policy"].endswith("frame-ancestors 'self'")
