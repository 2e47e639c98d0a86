"""The registry stage: file format and validation, the starter registry, the OTA importer."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest

from clausewatch.registry import (
    CATEGORIES,
    DOCUMENT_TYPES,
    DocumentDeclaration,
    RangeSelector,
    RegistryError,
    SourceDeclaration,
    dump_platform,
    import_ota_declarations,
    load_platform_file,
    load_registry,
    load_starter_registry,
    starter_registry_path,
    write_registry,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OTA_DECLARATIONS = SHARED_DATA / "ota" / "pga-declarations"
REQUIRED_CATEGORIES = (
    "social-media",
    "ai-services",
    "e-commerce",
    "financial-services",
    "health-tech",
    "gaming",
    "travel",
    "developer-tools",
)

VALID = """\
slug: example
name: Example
category: social-media
jurisdictions: [US, EU]
website: https://example.com
documents:
  - type: Privacy Policy
    fetch: https://example.com/privacy
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> str:
    with pytest.raises(RegistryError) as caught:
        load_registry([path])
    return str(caught.value)


# --- the starter registry ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def starter() -> list:
    return load_starter_registry()


def test_starter_registry_is_large_and_covers_the_required_categories(starter: list) -> None:
    assert len(starter) >= 60
    per_category = Counter(platform.category for platform in starter)
    for category in REQUIRED_CATEGORIES:
        assert per_category[category] >= 5, category
    slugs = [platform.slug for platform in starter]
    assert len(slugs) == len(set(slugs))


def test_starter_platforms_declare_their_main_documents(starter: list) -> None:
    for platform in starter:
        types = {document.type for document in platform.documents}
        assert "Terms of Service" in types, platform.slug
        if platform.slug != "signal":  # one page holds both of Signal's documents
            assert "Privacy Policy" in types, platform.slug
    ai_services = [p for p in starter if p.category == "ai-services"]
    with_usage_rules = [
        p
        for p in ai_services
        if {d.type for d in p.documents} & {"Acceptable Use Policy", "Community Guidelines"}
    ]
    assert len(with_usage_rules) >= 6


def test_starter_files_are_named_by_slug_and_carry_the_header() -> None:
    for path in sorted(starter_registry_path().glob("*.yaml")):
        (platform,) = load_platform_file(path)
        assert path.stem == platform.slug
        assert "checks them on every run" in path.read_text(encoding="utf-8")


def test_starter_round_trips_through_dump(starter: list, tmp_path: Path) -> None:
    write_registry(starter, tmp_path)
    assert load_registry([tmp_path]) == sorted(starter, key=lambda p: p.slug)


# --- the file format -----------------------------------------------------------------------------


def test_full_format_with_combine_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "linkedin.yaml",
        """\
        slug: linkedin
        name: LinkedIn
        category: social-media
        jurisdictions: [us, EU, NO]   # case forgiven; NO stays Norway, not false
        website: https://www.linkedin.com
        documents:
          - type: Privacy Policy
            fetch: https://www.linkedin.com/legal/privacy/eu
            select: ["#component-container"]
            remove: .banner
            ignore_robots: true
          - type: Trackers Policy          # an alias: stored as Cookie Policy
            select: main
            fetcher: browser
            combine:
              - fetch: https://example.com/a
              - fetch: https://example.com/b
                select: [article, {startBefore: h1, endAfter: footer}]
                fetcher: http
        """,
    )
    (platform,) = load_platform_file(path)
    assert platform.jurisdictions == ("US", "EU", "NO")
    privacy, cookies = platform.documents
    assert privacy.sources == (
        SourceDeclaration(
            url="https://www.linkedin.com/legal/privacy/eu",
            select=("#component-container",),
            remove=(".banner",),
            ignore_robots=True,
        ),
    )
    assert cookies.type == "Cookie Policy"
    first, second = cookies.sources
    assert (first.select, first.fetcher) == (("main",), "browser")
    assert second.select == ("article", RangeSelector(start_before="h1", end_after="footer"))
    assert second.fetcher == "http"


def test_folder_loads_yaml_yml_and_json_sorted_and_platform_lists(tmp_path: Path) -> None:
    write(tmp_path, "b.yml", VALID.replace("example", "bee"))
    write(
        tmp_path,
        "a.json",
        '{"slug": "ant", "name": "Ant", "category": "gaming", "website": "https://ant.example",'
        ' "documents": [{"type": "Terms of Service", "fetch": "https://ant.example/tos"}]}',
    )
    many = "platforms:\n" + textwrap.indent(
        "- " + VALID.replace("\n", "\n  ").rstrip() + "\n", "  "
    )
    write(tmp_path, "c.yaml", many.replace("example", "cat"))
    write(tmp_path, "notes.txt", "ignored")
    assert [p.slug for p in load_registry([tmp_path])] == ["ant", "bee", "cat"]


BAD_CASES = {
    "unknown key": (
        VALID + "extra: 1\n",
        "extra: unknown field",
    ),
    "OTA key": (
        VALID + "    executeClientScripts: true\n",
        "documents[0].executeClientScripts: unknown field (write `fetcher: browser` instead)",
    ),
    "missing name": (
        VALID.replace("name: Example\n", ""),
        "name: required field is missing",
    ),
    "missing document type": (
        VALID.replace("  - type: Privacy Policy\n    fetch:", "  - fetch:"),
        "documents[0].type: required field is missing",
    ),
    "fetch and combine": (
        VALID + "    combine:\n      - fetch: https://example.com/b\n",
        "documents[0]: needs either `fetch` (one source) or `combine` (several), both given",
    ),
    "neither fetch nor combine": (
        VALID.replace("    fetch: https://example.com/privacy\n", "    select: main\n"),
        "documents[0]: needs either `fetch` (one source) or `combine` (several), neither given",
    ),
    "bad combine URL": (
        VALID
        + "  - type: Community Guidelines\n    combine:\n      - fetch: foo\n"
        + "      - fetch: https://example.com/ok\n",
        "documents[1].combine[0].fetch: not an absolute http(s) URL: 'foo'",
    ),
    "relative fetch": (
        VALID.replace("https://example.com/privacy", "/privacy"),
        "documents[0].fetch: not an absolute http(s) URL: '/privacy'",
    ),
    "bad website": (
        VALID.replace("website: https://example.com", "website: ftp://example.com"),
        "website: not an absolute http(s) URL: 'ftp://example.com'",
    ),
    "bad CSS": (
        VALID + "    select: [main, 'div[']\n",
        "documents[0].select[1]: invalid CSS selector 'div['",
    ),
    "half a range": (
        VALID + "    remove: [{startBefore: h2}]\n",
        "documents[0].remove[0]: a range needs exactly one of startBefore/startAfter",
    ),
    "bad category": (
        VALID.replace("category: social-media", "category: social"),
        "category: unknown category 'social' (did you mean 'social-media'?)",
    ),
    "bad document type": (
        VALID.replace("Privacy Policy", "Privacy Polcy"),
        "documents[0].type: unknown document type 'Privacy Polcy' (did you mean",
    ),
    "bad jurisdiction": (
        VALID.replace("[US, EU]", "[US, UK]"),
        "jurisdictions[1]: not an ISO 3166-1 alpha-2 code or EU/EEA: 'UK' (use 'GB')",
    ),
    "bad slug": (
        VALID.replace("slug: example", "slug: Example_1"),
        "slug: expected lowercase letters, digits and single hyphens",
    ),
    "bad fetcher": (
        VALID + "    fetcher: chrome\n",
        "documents[0].fetcher: expected http or browser, got 'chrome'",
    ),
    "yes is not a boolean": (
        VALID + "    ignore_robots: yes\n",
        "documents[0].ignore_robots: expected true or false, got 'yes'",
    ),
    "duplicate document type": (
        VALID + "  - type: privacy notice\n    fetch: https://example.com/p2\n",
        "documents[1].type: duplicate document type 'Privacy Policy' (also documents[0])",
    ),
    "duplicate key": (
        VALID + "name: Again\n",
        "name: field given twice (line 9)",
    ),
    "no documents": (
        VALID.split("documents:")[0] + "documents: []\n",
        "documents: expected a non-empty list of documents",
    ),
    "YAML syntax": (
        VALID.replace("name: Example", "name: [Example"),
        "YAML syntax error",
    ),
    "empty file": ("", "file is empty"),
    "line break in the name": (  # names reach email headers: alert subjects
        VALID.replace("name: Example", 'name: "Example\\r\\nBcc: x@example.org"'),
        "name: control characters (such as a line break) are not allowed; found '\\r' (line 2)",
    ),
    "control character in a document type": (
        VALID.replace("type: Privacy Policy", 'type: "Privacy\\x07Policy"'),
        "documents[0].type: control characters (such as a line break) are not allowed",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_invalid_input_names_file_and_field(case: str, tmp_path: Path) -> None:
    text, expected = BAD_CASES[case]
    path = write(tmp_path, "bad.yaml", text)
    message = errors_of(path)
    assert f"{path}: {expected}" in message


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "slug: x\nname: a\n  category: b: c\n")
    assert "(line 3)" in errors_of(path)


def test_json_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{"slug": "x",\n "name": }')
    assert f"{path}: JSON syntax error: Expecting value (column 10) (line 2)" in errors_of(path)


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    text = VALID.replace("slug: example", "slug: BAD").replace("social-media", "nope")
    path = write(tmp_path, "bad.yaml", text + "    select: 'div['\n    fetcher: x\n")
    with pytest.raises(RegistryError) as caught:
        load_registry([path])
    paths = {issue.path for issue in caught.value.issues}
    assert {"slug", "category", "documents[0].select", "documents[0].fetcher"} <= paths
    assert all(issue.line for issue in caught.value.issues)


def test_duplicate_slugs_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    second = write(tmp_path, "b.yaml", VALID)
    message = errors_of(tmp_path)
    assert f"{second}: slug: duplicate slug 'example' (already declared in " in message


def test_missing_path_and_wrong_suffix(tmp_path: Path) -> None:
    text_file = write(tmp_path, "x.txt", VALID)
    with pytest.raises(RegistryError) as caught:
        load_registry([tmp_path / "nope", text_file])
    assert [issue.message for issue in caught.value.issues] == [
        "no such file or folder",
        "not a .yaml, .yml or .json file",
    ]


def test_write_registry_refuses_to_overwrite(tmp_path: Path) -> None:
    (platform,) = load_platform_file(write(tmp_path, "example.yaml", VALID))
    with pytest.raises(FileExistsError):
        write_registry([platform], tmp_path)
    assert write_registry([platform], tmp_path, overwrite=True) == [tmp_path / "example.yaml"]


def test_dump_leaves_out_defaults_and_hoists_shared_options() -> None:
    (platform,) = load_registry([starter_registry_path() / "linkedin.yaml"])
    doc = DocumentDeclaration(
        type="Community Guidelines",
        sources=tuple(
            SourceDeclaration(url=f"https://example.com/{n}", select=("main",), fetcher="browser")
            for n in range(3)
        ),
    )
    text = dump_platform(platform.model_copy(update={"documents": (doc,)}))
    assert "select: [main]\n    fetcher: browser\n    combine:" in text
    assert "ignore_robots" not in text and "remove" not in text


def test_range_selector_needs_one_start_and_one_end() -> None:
    with pytest.raises(ValueError):
        RangeSelector(start_before="h1", start_after="h2", end_before="footer")
    doc = DocumentDeclaration(type="x", sources=(SourceDeclaration(url="https://e.com"),))
    ranged = DocumentDeclaration(
        type="x",
        sources=(
            SourceDeclaration(
                url="https://e.com", select=(RangeSelector(start_after="h1", end_before="hr"),)
            ),
        ),
    )
    assert doc.extraction_fingerprint() != ranged.extraction_fingerprint()


def test_vocabulary_lists_are_documented() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "registry.md").read_text()
    for category in CATEGORIES:
        assert f"| `{category}` |" in docs, category
    for document_type in DOCUMENT_TYPES:
        assert f"| {document_type} |" in docs, document_type


# --- the Open Terms Archive importer -------------------------------------------------------------

needs_ota = pytest.mark.skipif(not OTA_DECLARATIONS.is_dir(), reason="shared OTA data not present")


@pytest.fixture(scope="module")
def ota():
    return import_ota_declarations([OTA_DECLARATIONS])


@needs_ota
def test_ota_import_counts(ota) -> None:
    assert len(list(OTA_DECLARATIONS.glob("*.json"))) == 25
    assert len(ota.platforms) == 24  # Twitter.json declares no terms
    assert ota.document_count == 116
    assert sum(len(d.sources) for p in ota.platforms for d in p.documents) == 321
    assert any(s.platform == "twitter" and s.what == "platform" for s in ota.skipped)
    by_slug = {p.slug: p for p in ota.platforms}
    assert by_slug["facebook"].website == "https://www.facebook.com"
    assert by_slug["truth-social"].category == "social-media"
    assert by_slug["truth-social"].jurisdictions == ()


@needs_ota
def test_ota_combine_inherits_document_options(ota) -> None:
    facebook = next(p for p in ota.platforms if p.slug == "facebook")
    guidelines = next(d for d in facebook.documents if d.type == "Community Guidelines")
    assert len(guidelines.sources) == 26
    for source in guidelines.sources:
        assert source.select == ("[id=mdc-main-content]",)  # from the document level
        assert source.fetcher == "browser"  # executeClientScripts: true
        assert source.remove  # each item's own
    cookies = next(d for d in facebook.documents if d.type == "Cookie Policy")  # Trackers Policy
    assert cookies.sources[0].url == "https://www.facebook.com/policies/cookies"


@needs_ota
def test_ota_range_selectors_are_kept(ota) -> None:
    spotify = next(p for p in ota.platforms if p.slug == "spotify")
    privacy = next(d for d in spotify.documents if d.type == "Privacy Policy")
    (selector,) = privacy.sources[0].select
    assert selector == RangeSelector(start_before="h1", end_before="footer")
    assert dict(selector) == {"startBefore": "h1", "endBefore": "footer"}  # OTA's own keys
    # Declarations are stored as JSON by the archive and read back with model_validate.
    assert DocumentDeclaration.model_validate(privacy.model_dump(mode="json")) == privacy


@needs_ota
def test_ota_filters_and_unmapped_fields_are_reported(ota) -> None:
    filters = [s for s in ota.skipped if s.what == "filter"]
    assert len(filters) == 25
    facebook_tos = next(
        s for s in filters if (s.platform, s.document) == ("facebook", "Terms of Service")
    )
    assert facebook_tos.detail == "cleanUrls, replaceInfoImageWithEmoji, removeReturnToTopButtons"
    assert {s.platform for s in ota.skipped if s.what == "importedFrom"} == {
        "spotify",
        "tumblr",
        "youtube",
    }
    assert "filter: cleanUrls" in ota.report()


@needs_ota
def test_ota_import_round_trips_through_files(ota, tmp_path: Path) -> None:
    write_registry(ota.platforms, tmp_path)
    assert load_registry([tmp_path]) == sorted(ota.platforms, key=lambda p: p.slug)


def test_ota_history_and_unknown_fields(tmp_path: Path) -> None:
    write(
        tmp_path,
        "Acme Corp.json",
        """\
        {"name": "Acme Corp", "terms": {
          "Terms of Service": [
            {"fetch": "https://acme.example/old", "select": "main", "validUntil": "2020-01-01"},
            {"fetch": "https://acme.example/tos.pdf"}
          ],
          "Privacy Policy": {"fetch": "https://acme.example/p", "select": "div[",
                             "filter": [{"removeQueryParams": ["utm"]}],
                             "executeClientScripts": true},
          "Secret Sauce": {"fetch": "https://acme.example/s"},
          "Imprint": {"fetch": "https://acme.example/i", "foo": 1}
        }}
        """,
    )
    write(tmp_path, "Acme Corp.history.json", "{}")
    result = import_ota_declarations([tmp_path], category="e-commerce", jurisdictions=["de"])
    (platform,) = result.platforms
    assert (platform.slug, platform.category, platform.jurisdictions) == (
        "acme-corp",
        "e-commerce",
        ("DE",),
    )
    assert [d.type for d in platform.documents] == ["Terms of Service", "Imprint"]
    assert platform.documents[0].sources[0].url == "https://acme.example/tos.pdf"
    report = {(s.document, s.what): s.detail for s in result.skipped}
    assert report[("Terms of Service", "historic declaration")].startswith("1 earlier")
    assert report[("Privacy Policy", "filter")] == 'removeQueryParams(["utm"])'
    assert "invalid CSS selector" in report[("Privacy Policy", "document")]
    assert report[("Secret Sauce", "document")] == "unknown document type 'Secret Sauce'"
    assert report[("Imprint", "field foo")] == "1"
    assert (None, "historic declaration") in report


def test_ota_rejects_unknown_options(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="unknown category"):
        import_ota_declarations([tmp_path], category="nope")
