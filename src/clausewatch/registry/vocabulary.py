"""The fixed vocabularies a registry file is checked against: categories, document types and
jurisdictions. docs/registry.md lists them for people; this module is the source of truth."""

from __future__ import annotations

import difflib

# Platform categories: slug -> what belongs there.
CATEGORIES: dict[str, str] = {
    "social-media": "Social networks and content-sharing communities",
    "ai-services": "Generative AI assistants, model APIs and AI image/voice services",
    "e-commerce": "Online shops, marketplaces and shop-building platforms",
    "financial-services": "Payments, banking, brokerage, crypto exchanges, buy-now-pay-later",
    "health-tech": "Fitness, wellness, telehealth, genetic testing, health tracking",
    "gaming": "Game stores, online games and console networks",
    "travel": "Accommodation, flights, travel search and reviews",
    "developer-tools": "Code hosting, developer platforms, hosting and CI for developers",
    "messaging": "Messengers and chat platforms",
    "streaming-media": "Video, music and live streaming",
    "productivity": "Office suites, video meetings, file storage, collaboration",
    "search": "Web search engines",
    "cloud-services": "Cloud infrastructure and platform providers",
    "mobility": "Ride-hailing, car sharing, micromobility",
    "food-delivery": "Food and grocery delivery",
    "dating": "Dating apps",
    "education": "Online learning",
    "news-media": "News publishers and aggregators",
    "telecommunications": "Mobile and internet carriers",
    "consumer-devices": "Device makers' services (phones, smart speakers, wearables)",
    "other": "Anything that fits no other category",
}

# Document types: canonical name -> what it covers. Names follow Open Terms Archive's terms types
# where one exists, so that imported declarations keep their type.
DOCUMENT_TYPES: dict[str, str] = {
    "Terms of Service": "The main contract with users: terms of use, user agreement, EULA",
    "Privacy Policy": "How personal data is collected, used, shared and kept",
    "Cookie Policy": "Cookies and other trackers (OTA: Trackers Policy)",
    "Acceptable Use Policy": "What users may not do with the service; AI usage policies",
    "Community Guidelines": "Rules for content and behaviour on the platform",
    "AI Policy": "Terms specific to AI features: generative-AI terms, training on user data",
    "Developer Terms": "Terms and policies for API and platform developers",
    "Commercial Terms": "Terms for business customers, advertisers or enterprise plans",
    "Seller Terms": "Terms for merchants selling through a marketplace",
    "Data Processor Agreement": "Data processing addendum where the platform is a processor",
    "Data Controller Agreement": "Terms where the platform and a business are both controllers",
    "Subprocessor List": "The third parties that process customer data",
    "Advertising Content Policy": "What ads may contain and promote",
    "Content Monetisation Policy": "Rules for earning money from content",
    "Copyright Claims Policy": "Copyright notices, takedowns and counter-notices",
    "Law Enforcement Guidelines": "How authorities may request user data",
    "User Consent Policy": "Consent the platform's business users must obtain from end users",
    "Live Policy": "Rules for live streaming",
    "Brand Guidelines": "Use of the platform's names and logos",
    "In-App Purchases Policy": "Virtual items, coins and in-app purchases",
    "Fee Schedule": "Fees and charges",
    "Refund Policy": "Refunds, returns and cancellations",
    "Conditions of Carriage": "A carrier's contract of transport",
    "Service Level Agreement": "Availability commitments and credits",
    "Deceased Users": "What happens to the account of a user who died",
    "Review Guidelines": "Rules for reviews and ratings",
    "Vulnerability Disclosure Policy": "How to report security vulnerabilities",
    "Human Rights Policy": "The platform's human rights commitments",
    "Imprint": "Legal notice identifying the operator (Impressum)",
}

# Other names people (and OTA) use for a type; matched case-insensitively.
DOCUMENT_TYPE_ALIASES: dict[str, str] = {
    "terms of use": "Terms of Service",
    "terms and conditions": "Terms of Service",
    "user agreement": "Terms of Service",
    "conditions of use": "Terms of Service",
    "end user license agreement": "Terms of Service",
    "eula": "Terms of Service",
    "privacy notice": "Privacy Policy",
    "privacy statement": "Privacy Policy",
    "trackers policy": "Cookie Policy",
    "cookies policy": "Cookie Policy",
    "cookie notice": "Cookie Policy",
    "usage policy": "Acceptable Use Policy",
    "usage policies": "Acceptable Use Policy",
    "use policy": "Acceptable Use Policy",
    "prohibited use policy": "Acceptable Use Policy",
    "community standards": "Community Guidelines",
    "content policy": "Community Guidelines",
    "house rules": "Community Guidelines",
    "data processing addendum": "Data Processor Agreement",
    "data processing agreement": "Data Processor Agreement",
    "dpa": "Data Processor Agreement",
    "developer policy": "Developer Terms",
    "api terms": "Developer Terms",
    "business terms": "Commercial Terms",
    "advertising policies": "Advertising Content Policy",
    "monetisation policy": "Content Monetisation Policy",
    "monetization policy": "Content Monetisation Policy",
    "copyright policy": "Copyright Claims Policy",
}

# Regions accepted besides country codes.
REGIONS: frozenset[str] = frozenset({"EU", "EEA"})

# ISO 3166-1 alpha-2, officially assigned codes.
_ISO_3166_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
"""
COUNTRY_CODES: frozenset[str] = frozenset(_ISO_3166_ALPHA_2.split())

# Common non-ISO spellings, to make the error message useful.
_JURISDICTION_HINTS = {"UK": "GB", "EL": "GR"}


def resolve_document_type(name: str) -> str | None:
    """The canonical document type for a name or alias, or None if unknown."""
    folded = name.strip().casefold()
    for canonical in DOCUMENT_TYPES:
        if canonical.casefold() == folded:
            return canonical
    return DOCUMENT_TYPE_ALIASES.get(folded)


def jurisdiction_problem(code: str) -> str | None:
    """Why `code` (already upper-cased) is not a valid jurisdiction, or None if it is."""
    if code in COUNTRY_CODES or code in REGIONS:
        return None
    hint = _JURISDICTION_HINTS.get(code)
    advice = f" (use {hint!r})" if hint else ""
    return f"not an ISO 3166-1 alpha-2 code or EU/EEA: {code!r}{advice}"


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' when a choice is close to `word`, else ''."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
