"""The site in real headless Chromium (Debian's), served by uvicorn on loopback: navigate by
clicking, check the provision page's sections and figures, console errors, CSP violations;
take screenshots (their size is checked; they go to a temporary folder: the ones in
docs/screenshots/ are of the bundled sample, see docs/web.md)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from browser_fixtures import NEEDS_CHROMIUM, archive_fixture, browser_fixture, server_fixture

from clausewatch.web.pages import PROVISION_SECTIONS

SCREENSHOTS = Path(tempfile.gettempdir()) / "clausewatch-screenshots"

pytestmark = NEEDS_CHROMIUM

archive_dir = archive_fixture()  # the OTA sample
base_url = server_fixture()
browser = browser_fixture()


def test_navigate_to_a_provision_and_check_it(base_url: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )

    page.goto(base_url + "/")
    assert page.locator("h1").count() == 1
    assert page.locator('[data-figure="platforms"]').inner_text() == "2"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "home.png"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Platforms").click()
    page.get_by_role("link", name="LinkedIn").click()
    assert page.locator("h1").inner_text() == "LinkedIn"
    page.locator("section#documents, section[aria-labelledby=documents]").get_by_role(
        "link"
    ).first.click()
    assert page.url.startswith(base_url + "/documents/D-")
    # a provision of the document that has a clause type with a rarity (not boilerplate)
    page.locator(".segment .mark.sev-high, .segment .mark.sev-medium").first.locator(
        "xpath=.."
    ).get_by_role("link").first.click()
    assert "/provisions/P-" in page.url
    for heading in PROVISION_SECTIONS:
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    badge = page.locator(".badge.rarity")
    found, monitored = badge.get_attribute("data-found"), badge.get_attribute("data-monitored")
    type_id = badge.get_attribute("data-type")
    assert found and monitored and type_id
    assert page.get_by_text("✓ Hash verified").first.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "provision.png"))

    page.get_by_role("link", name="See all platforms with this clause type →").click()
    assert page.url.endswith(f"/clause-types/{type_id}")
    hub = page.locator(".badge.rarity")
    assert hub.get_attribute("data-found") == found
    assert hub.get_attribute("data-monitored") == monitored
    assert f"Found in {found} of {monitored} platforms" in hub.inner_text()
    assert not problems, problems  # CSP violations are reported as console errors
    page.close()
    for name in ("home.png", "provision.png"):
        assert (SCREENSHOTS / name).stat().st_size < 300_000


def test_second_slice_pages_in_the_browser(base_url: str, browser: Any) -> None:
    """Registry, regulations, platform vs platform, redline and the charts: no console error,
    no CSP violation (inline SVG uses presentation attributes only), forms work without JS."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    page.goto(base_url + "/")
    assert page.locator("figure.chart svg[role=img]").count() == 2
    assert page.locator("figure.chart svg rect.bar").first.is_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Provisions").click()
    page.select_option("#f-severity", "High")
    page.get_by_role("button", name="Filter").click()
    assert "severity=High" in page.url and page.locator(".chip").count() == 1
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Regulations").click()
    page.locator("td a[href*='/regulations/']").first.click()
    assert "/regulations/" in page.url
    page.goto(base_url + "/compare/platforms")
    page.get_by_role("button", name="Compare").click()
    assert page.locator("table.versus tbody tr").count() > 0
    page.goto(base_url + "/changes")  # a document with a change record has two versions
    page.locator("ul.changes li a").first.click()
    page.locator("nav.breadcrumb a").nth(1).click()
    assert "/documents/D-" in page.url
    page.get_by_role("button", name="Show redline").click()
    assert "/redline?" in page.url and page.locator(".redline").is_visible()
    assert not problems, problems
    page.close()


def test_csp_blocks_injected_script(base_url: str, browser: Any) -> None:
    """The policy is really enforced: an inline script added to a served page is refused."""
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if m.type == "error" else None)
    page.goto(base_url + "/methodology")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.pwned = 1';"
        " document.body.appendChild(s); }"
    )
    assert page.evaluate("() => window.pwned") is None
    assert any("Content Security Policy" in v for v in violations), violations
    page.close()


def test_visible_text_of_provision_and_document_has_no_raw_markup(
    base_url: str, browser: Any
) -> None:
    """What Chromium shows (document.body.innerText) of a table-row provision, of every
    document and of a redline: no raw Markdown/HTML; the table row is a table. Takes a
    screenshot of a provision with a table row and bold text."""
    import httpx2
    from render_checks import artifacts

    provisions = httpx2.get(base_url + "/api/v1/provisions?limit=500").json()["items"]
    documents = httpx2.get(base_url + "/api/v1/documents").json()["items"]
    row = next(
        p["id"]
        for p in provisions
        if (t := httpx2.get(f"{base_url}/api/v1/provisions/{p['id']}").json()["text"]).startswith(
            "| **"
        )
        and "](http" in t
    )
    page = browser.new_page(viewport={"width": 1100, "height": 1300})
    urls = [f"/provisions/{row}"] + [f"/documents/{d['id']}" for d in documents]
    for url in urls:
        page.goto(base_url + url)
        text = page.evaluate("() => document.body.innerText")
        assert not artifacts(text), (url, artifacts(text))
    page.goto(f"{base_url}/provisions/{row}")
    quote = page.locator("section[aria-labelledby=original] blockquote")
    assert quote.locator("table td strong").first.is_visible()
    assert quote.locator("a[rel='nofollow noopener noreferrer']").first.is_visible()
    page.locator("section[aria-labelledby=original]").scroll_into_view_if_needed()
    page.evaluate(
        "() => document.querySelector('section[aria-labelledby=others]').scrollIntoView()"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "provision-table.png"))
    page.close()
    assert (SCREENSHOTS / "provision-table.png").stat().st_size < 400_000
