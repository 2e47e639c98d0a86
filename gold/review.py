"""Consistency passes over the gold set: list the candidate inconsistencies, case by case.

Each case is a regex over the provision text (plus the rows whose first-pass `main` is the type in
question, or a document kind or heading); every candidate is printed with its first-pass label and,
when gold/labels/review.jsonl corrects it, the reviewed label. The summary counts, per case, the
candidates looked at and the labels the review changed (a row can be a candidate of several cases).
The first ten cases are the second pass; the cases after them were added by the third pass (second
draw: batch-7..12, targeted-2), including `same-text`, which lists every provision whose wording
nearly repeats a provision of another batch that was labelled differently in the first pass; the
eight from `conformity` to `banners` were added by the fourth pass (third draw: batch-13..19); the
last thirteen (`appeals` … `updates`) were added by the fifth pass (fourth draw: batch-20..28,
targeted-3). `opt-out` uses the whole document: it lists `arbitration` rows whose severity does not
match whether a gold row of the same platform and document mentions an opt-out from arbitration.
The rules are in docs/annotation.md ("Rules for the confusions we have seen" and the sections
added by each pass), the outcome in gold/review.md.

    .venv/bin/python gold/review.py                 # all cases, then the summary
    .venv/bin/python gold/review.py --case scope    # one case
    .venv/bin/python gold/review.py --summary       # counts only
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path

from merge import batch_files  # gold/ is on the path when run as gold/review.py

HERE = Path(__file__).parent
FIELDS = ("main", "other", "severity", "negated", "unsure")


def _rx(pattern: str) -> Callable[[dict], bool]:
    compiled = re.compile(pattern, re.I | re.S)
    return lambda row: bool(compiled.search(row["text"]))


def _main_is(*types: str | None) -> Callable[[dict], bool]:
    return lambda row: row["first"]["main"] in types


def _any(*tests: Callable[[dict], bool]) -> Callable[[dict], bool]:
    return lambda row: any(t(row) for t in tests)


def _all(*tests: Callable[[dict], bool]) -> Callable[[dict], bool]:
    return lambda row: all(t(row) for t in tests)


def _not(test: Callable[[dict], bool]) -> Callable[[dict], bool]:
    return lambda row: not test(row)


def _doc_is(*documents: str) -> Callable[[dict], bool]:
    return lambda row: row["document"] in documents


def _head(pattern: str) -> Callable[[dict], bool]:
    compiled = re.compile(pattern, re.I)
    return lambda row: bool(compiled.search(" > ".join(row["heading"])))


def _twin(row: dict) -> bool:
    """A near-identical provision in another batch carries a different first-pass label."""
    return bool(row.get("twins"))


_DOC = r"(?:terms|policy|policies|notice|statement|guidelines|standards|rules|agreement|conditions)"
_NEG = (
    r"\b(?:we|meta|linkedin|tiktok|google|youtube|openai|x|reddit)\b[^.]{0,40}"
    r"\b(?:do not|don't|does not|doesn't|will not|won't|never|not)\b[^.]{0,30}"
    r"\b(?:sell|share|rent|use|train|disclose|collect|track|store|retain|engage|process|"
    r"make decisions|profil)"
)

_ACTIONS = {"unilateral-termination", "account-suspension", "content-removal"}
_PROHIBITION = (
    r"\b(?:is|are) (?:strictly )?(?:prohibited|not (?:allowed|permitted|tolerated))\b|"
    r"\b(?:you|users?|advertisers?|ads|developers?|creators?)\b[^.]{0,20}"
    r"\b(?:may|must|shall|will|should|can)\b[^.]{0,10}\b(?:not|never)\b|"
    r"\bwe (?:do not|don't|don’t) (?:allow|permit|tolerate)|zero[- ]tolerance|\bprohibits?\b"
)
_PROVIDER_ACTION = (
    r"\b(?:we|it)(?:'ll| will| may| can| reserve the right to)?[^.]{0,30}"
    r"\b(?:terminat|suspend|ban|remov|disabl|delet)\w*|"
    r"\b(?:may|will) (?:result in|lead to)[^.]{0,80}(?:terminat|suspen|ban|remov|disabl)|"
    r"\b(?:accounts?|content|posts?|ads?)\b (?:may|will) be (?:permanently |immediately )?"
    r"(?:terminated|suspended|banned|removed|disabled|deleted)"
)

CASES: dict[str, tuple[str, Callable[[dict], bool]]] = {
    "scope": (
        "scope statements: contract-by-using vs null vs boilerplate",
        _any(
            _main_is("contract-by-using"),
            _rx(
                rf"\b(?:these|this|our)\b[^.]{{0,60}}\b{_DOC}\b[^.]{{0,40}}"
                r"\b(?:appl(?:y|ies)|cover|covers|govern|governs|describes?|explains?)\b"
            ),
            _rx(
                r"\b(?:appl(?:y|ies)|govern) (?:only|solely|also)\b|"
                r"\bdoes not apply\b|\bsupplements\b"
            ),
            _rx(
                r"\bby (?:using|accessing|continuing to use|creating an account|signing up)\b"
                r"[^.]{0,40}\b(?:agree|accept|consent|bound|affirm)"
            ),
            _rx(r"\b(?:you )?(?:agree|accept|consent) to (?:these|this|the)\b[^.]{0,40}" + _DOC),
        ),
    ),
    "mechanics": (
        "contract mechanics: severability-waiver vs boilerplate / null",
        _any(
            _main_is("severability-waiver"),
            _rx(
                r"entire agreement|whole agreement|\bsever(?:able|ability|ed)\b|no waiver|"
                r"\bwaiver of\b|not (?:be )?(?:considered|deemed|constitute) a waiver|"
                r"failure to enforce|fail(?:s|ure)? to (?:act|exercise)|"
                r"\bassign(?:ment|s)?\b|\btransfer (?:this|these|the) (?:agreement|terms)|"
                r"\bsurviv(?:e|al|es)\b|headings?\b[^.]{0,60}(?:convenience|no legal)|"
                r"order of precedence|\bprevail|\bconflicts? (?:between|with)\b|"
                r"third[- ]party beneficiar|force majeure|\brelationship of the parties|"
                r"translation|\bEnglish version|summar(?:y|ies)[^.]{0,40}convenience|"
                r"for your convenience only"
            ),
        ),
    ),
    "moderation": (
        "automated moderation: automated-decision-making vs content-removal",
        _any(
            _main_is("automated-decision-making"),
            _all(
                _rx(
                    r"\bautomat(?:ed|ic|ically|ion)\b|machine[- ]learning|\bclassifiers?\b|"
                    r"\btechnology to (?:detect|find|identify)|\bAI\b|algorithm"
                ),
                _rx(
                    r"\b(?:detect|remove|removal|review|enforce|enforcement|moderat|flag|"
                    r"take (?:down|action)|restrict|block|violat)"
                ),
            ),
        ),
    ),
    "cookies": (
        "cookie banners and cookie mentions: tracking-cookies vs boilerplate / null",
        _any(
            _main_is("tracking-cookies"), _rx(r"\bcookies?\b|\bpixels?\b|local storage|\bSDKs?\b")
        ),
    ),
    "contact": (
        "'contact us' lines: boilerplate vs a type",
        _rx(
            r"\bcontact us\b|\b(?:questions?|concerns?|comments?)\b[^.]{0,60}\b(?:contact|reach|"
            r"write|email)\b|\bdata protection officer\b|\bDPO\b"
        ),
    ),
    "privacy-ref": (
        "privacy-policy references: privacy-by-reference vs data types / boilerplate",
        _any(
            _main_is("privacy-by-reference"),
            _rx(r"\bprivacy (?:policy|notice|statement|center|centre)\b"),
        ),
    ),
    "prohibitions": (
        "rules addressed to users/advertisers/developers not labelled acceptable-use",
        _all(
            _rx(
                r"\b(?:you|users?|advertisers?|ads|developers?|creators?|customers?)\b[^.]{0,20}"
                r"\b(?:may|must|shall|will|should|can|agree)\b[^.]{0,15}\b(?:not|never)\b|"
                r"^\W*(?:do not|don't|never)\b|"
                r"\b(?:is|are) (?:strictly )?(?:prohibited|not (?:allowed|permitted|tolerated))\b"
            ),
            _not(_main_is("acceptable-use")),
        ),
    ),
    "disputes": (
        "informal dispute resolution steps before arbitration: arbitration vs null",
        _rx(r"informal dispute|notice of dispute|meet and confer|\bcontact us first\b"),
    ),
    "enforcement": (
        "'may suspend or terminate' statements: which action is main",
        _rx(
            r"(?:suspen\w+|restrict\w*|disabl\w+)[^.]{0,40}\b(?:or|and|and/or)\b[^.]{0,15}"
            r"(?:terminat\w+|delet\w+|remov\w+ (?:your )?accounts?|ban)|"
            r"terminat\w+[^.]{0,20}\bor\b[^.]{0,15}suspen\w+"
        ),
    ),
    "negated": (
        "'we do not sell/share/use…': negated set consistently",
        _any(_rx(_NEG), lambda row: row["first"]["negated"]),
    ),
    # --- added by the third pass (second draw) -------------------------------------------------
    "lead-ins": (
        "lead-ins ending in a colon (and warning banners): a type vs boilerplate",
        _rx(r":[\s*_]*$|^\W*please read (this|these) [^.]{0,40}carefully"),
    ),
    "suspension": (
        "'permanent suspension', 'suspend (temporarily or permanently)': which action is main",
        _rx(
            r"permanent(?:ly)?\W+(?:account\W+)?(?:suspen|ban)|suspen\w+[^.]{0,40}permanent|"
            r"temporar\w+ or permanent|indefinite\w* suspen"
        ),
    ),
    "law-enforcement": (
        "rows of a Law Enforcement Guidelines document: law-enforcement-access vs own type",
        _doc_is("Law Enforcement Guidelines"),
    ),
    "repeat-infringer": (
        "repeat-infringer account actions: copyright-claims vs the account action",
        _rx(r"repeat(?:ed)?\W+(?:copyright\W+)?infring|repeat offender|copyright strike"),
    ),
    "cancellation": (
        "subscription cancellation and refunds: refunds vs fees-auto-renewal",
        _all(
            _rx(r"\bcancel|\brefund|\bwithdraw(?:al)? (?:right|from)|non-?refundable|kündig"),
            _rx(r"subscri|renew|purchase|fees?\b|paid|premium|prepaid|payment|coins|abo"),
        ),
    ),
    "legal-basis": (
        "items of legal-basis and processing-purpose tables",
        _any(
            _head(r"legal bas|legitimate interest|processing summary|processing purpose"),
            _rx(r"^\W*(?:\*\*)?(?:legitimate interests? relied|information used)"),
        ),
    ),
    "monetisation": (
        "monetisation rules for creators, payout conditions",
        _any(_doc_is("Content Monetisation Policy"), _rx(r"\bmoneti[sz]")),
    ),
    "editing": (
        "provider editing user content: content-removal vs licence",
        _rx(
            r"(?:modify|adapt|edit|alter)\w*[^.]{0,60}\b(?:your|user)[^.]{0,10}"
            r"(?:content|posts?|links?)|affiliate code"
        ),
    ),
    "developer-duties": (
        "duties of developers and business customers (security, incidents, audits)",
        _all(
            _doc_is("Developer Terms", "Data Processor Agreement", "Commercial Terms"),
            _rx(r"\bsecurity\b|\bincident|\bbreach\b|\baudit"),
            _rx(r"\byou (?:must|will|shall)|\bcustomer (?:must|will|shall)|developers? must"),
        ),
    ),
    "notices": (
        "notices clauses and consent to electronic communications",
        _rx(
            r"\bnotices?\b[^.]{0,80}(?:in writing|by email|deemed|delivered)|"
            r"electronic(?:ally)? communication|agree to receive communications"
        ),
    ),
    "severity": (
        "severity conventions: cookies, AI training, arbitration procedure, change clauses",
        _main_is(
            "tracking-cookies",
            "ai-training-on-user-data",
            "arbitration",
            "class-action-waiver",
            "unilateral-change",
        ),
    ),
    "same-text": (
        "near-identical wording in another batch with a different first-pass label",
        _twin,
    ),
    # --- added by the fourth pass (third draw) -------------------------------------------------
    "conformity": (
        "statutory consumer-warranty (conformity) texts: negated warranty-disclaimer vs refunds",
        _any(
            _rx(
                r"conformit|Mängel|gewährleist|lack of conformity|non-compliance of [^.]{0,40}"
                r"with the contract|legal guarantee|statutory warrant|garanzia"
            ),
            _head(r"legal guarantee|conformit|gewährleist"),
        ),
    ),
    "grounds": (
        "list items giving grounds for termination or suspension: the action type vs boilerplate",
        _all(
            lambda row: row.get("kind") == "list_item",
            _head(r"terminat|suspen|ending these terms|right to terminate"),
        ),
    ),
    "rule-and-action": (
        "prohibitions that also state the provider's action: the action type vs acceptable-use",
        _any(
            _all(_rx(_PROHIBITION), _rx(_PROVIDER_ACTION)),
            lambda row: (
                row["first"]["main"] == "acceptable-use"
                and bool(_ACTIONS & set(row["first"]["other"]))
            ),
            lambda row: (
                row["first"]["main"] in _ACTIONS and "acceptable-use" in row["first"]["other"]
            ),
        ),
    ),
    "eligibility": (
        "creator-programme and monetisation eligibility: fees-auto-renewal / acceptable-use / "
        "minimum-age",
        _all(
            _any(
                _doc_is("Content Monetisation Policy"),
                _rx(r"moneti[sz]|partner program|creator (?:fund|rewards|program)"),
            ),
            _any(
                _head(r"eligib"),
                _rx(
                    r"eligib|followers|verified|legal resident|government|political|"
                    r"years of age|18 or older|age of (?:legal )?majority"
                ),
            ),
        ),
    ),
    "contract-extras": (
        "term clauses, authority representations, injunctive relief, jury waivers",
        _rx(
            r"authority to (?:bind|enter|act)|authori[sz]ed representative|each party represents|"
            r"duly organi[sz]ed|injunctive|equitable relief|irreparable|\bjury\b|"
            r"\bTerm\b\W{0,4}\.|(?:remain|continue) in (?:full )?(?:force|effect)|will last from|"
            r"[\"“]you[\"”] and [\"“]your[\"”]"
        ),
    ),
    "user-licences": (
        "licences users grant to other users: license-to-user-content vs null",
        _rx(r"grant (?:each other|other|those) (?:\w+ )?users?\b|other users[^.]{0,60}licen[cs]e"),
    ),
    "de-identified": (
        "use or sharing of de-identified / aggregated data: a data type vs null",
        _rx(
            r"de-?identifi|aggregated|anonymi[sz]ed|anonymous information|pseudonymi|"
            r"non-personally identif"
        ),
    ),
    "banners": (
        "warning banners and intro sentences naming (or not naming) a clause",
        _rx(
            r"please read (?:this|these|the following) [^.]{0,40}carefully|"
            r"limits of (?:legal )?liability we may have|this is our disclaimer|"
            r"significantly affect your legal rights"
        ),
    ),
    # --- added by the fifth pass (fourth draw) -------------------------------------------------
    "appeals": (
        "appeals and complaints against moderation decisions, DSA out-of-court bodies: "
        "a type vs null",
        _rx(
            r"\bappeal|out\W+of\W+court|dispute settlement bod|internal complaint|"
            r"raise a complaint|challenge (?:certain )?(?:decisions|enforcement)"
        ),
    ),
    "reporting": (
        "how users report content or accounts (tools, forms, step-by-step flows): null vs a type",
        _rx(
            r"\breport (?:this|it|content|posts?|users?|accounts?|violat\w+|any) |you can report|"
            r"\bto report\b|report(?:ing)? (?:tools?|button|feature|form|flow|channels?|mechanism)|"
            r"Report (?:post|account|Issue)|in-app report"
        ),
    ),
    "usernames": (
        "usernames reclaimed, changed or released by the provider",
        _rx(
            r"(?:reclaim|release|chang|reset|modif)\w*[^.]{0,40}(?:user ?names?|account names?|"
            r"handles?)\b|(?:user ?names?|account names?)[^.]{0,40}(?:reclaim|reset|squat)"
        ),
    ),
    "app-stores": (
        "app-store required terms (Apple/Google not a party, no support duty, beneficiary)",
        _all(
            _rx(r"\bApple\b|Google Play|App Store|Android App|iOS App|App Provider|Android Market"),
            _rx(
                r"third[- ]party beneficiar|not (?:a )?part(?:y|ies)|no obligation|not responsible|"
                r"solely between|maintenance and support|only a provider|no responsibility"
            ),
        ),
    ),
    "reverse-indemnity": (
        "indemnities given by the provider to the user or customer: null vs indemnification",
        _rx(
            r"\b(?:we|perplexity|openai|spacexai|mistral ai|company)\b[^.]{0,40}"
            r"(?:will|shall|agrees? to) (?:defend|indemnif)|indemnification (?:obligations )?"
            r"(?:by|of) (?:us|openai|spacexai|perplexity|mistral)|\bBy Perplexity\b|"
            r"output indemnity"
        ),
    ),
    "change-log": (
        "change-log entries and 'we updated' banners: policy-change-notice vs boilerplate "
        "vs a type",
        _any(
            _head(r"change ?log"),
            _rx(
                r"^\W*\d{4}-\d{2}-\d{2}:|we recently updated|we(?:’|')ve updated|"
                r"we also clarified"
            ),
        ),
    ),
    "savings": (
        "statutory-rights savings clauses: null vs the type of the clause they sit in",
        _rx(
            r"statutory rights|"
            r"nothing in (?:these|this)[^.]{0,80}(?:affect|limit|exclude|restrict)|"
            r"not intended to limit[^.]{0,60}rights|(?:rights|protections)[^.]{0,30}"
            r"(?:cannot|can't|may not) be (?:waived|excluded|limited|altered)"
        ),
    ),
    "binding": (
        "'these Terms are a (legally binding) agreement' without acceptance by use: null vs "
        "contract-by-using",
        _rx(
            r"binding (?:legal )?(?:contract|agreement)|(?:are|is|forms?|constitutes?) (?:a |an )?"
            r"(?:legal )?(?:agreement|contract) between you"
        ),
    ),
    "automation": (
        "one-line mentions that enforcement or review is automated and manual",
        _rx(
            r"(?:automated|automatic)[^.]{0,40}(?:and|or|alongside|as well as)[^.]{0,20}"
            r"(?:manual|human)|(?:manual|human)[^.]{0,30}(?:and|or|alongside)[^.]{0,20}automat"
        ),
    ),
    "opt-out": (
        "arbitration rows whose severity does not match the document's own opt-out text",
        lambda row: (
            row["first"]["main"] == "arbitration"
            and (
                (row.get("doc_optout") and row["first"]["severity"] == "High")
                or (not row.get("doc_optout") and row["first"]["severity"] == "Medium")
            )
        ),
    ),
    "pay-or-consent": (
        "free-with-ads or paid-without-ads choices and their lead-ins",
        _rx(r"free with ads|without ads|ad-free|\bno ads\b|less personali[sz]ed ads"),
    ),
    "public": (
        "content or profiles public by default: data-sharing-sale vs null",
        _rx(
            r"public by default|by default[^.]{0,60}public|visible to the public|anyone can see|"
            r"is a public platform|(?:always )?publicly available to others"
        ),
    ),
    "updates": (
        "software updates installed on the user's device",
        _rx(
            r"(?:download|install)\w*[^.]{0,40}\bupdates?\b|automatically update|"
            r"updates? to the Service on your device"
        ),
    ),
}


def _shingles(text: str) -> set[tuple[str, ...]]:
    """Word 4-grams of the text, with link targets and punctuation dropped."""
    words = re.sub(r"[^a-z0-9]+", " ", re.sub(r"\]\([^)]*\)", "]", text.lower())).split()
    return {tuple(words[i : i + 4]) for i in range(max(1, len(words) - 3))}


def _mark_twins(rows: list[dict], threshold: float = 0.6) -> None:
    """row["twins"]: ids of rows of other batches whose text is near-identical (Jaccard of word
    4-grams >= threshold) and whose first-pass main, severity or negated flag differs."""
    grams = {row["id"]: _shingles(row["text"]) for row in rows}
    index: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        for gram in grams[row["id"]]:
            index.setdefault(gram, []).append(row)
    key = ("main", "severity", "negated")
    for row in rows:
        shared: dict[str, int] = {}
        others: dict[str, dict] = {}
        for gram in grams[row["id"]]:
            for other in index[gram]:
                if other["batch"] != row["batch"]:
                    shared[other["id"]] = shared.get(other["id"], 0) + 1
                    others[other["id"]] = other
        row["twins"] = sorted(
            oid
            for oid, n in shared.items()
            if n / len(grams[row["id"]] | grams[oid]) >= threshold
            and any(others[oid]["first"][k] != row["first"][k] for k in key)
        )


_OPTOUT = re.compile(
    r"opt[- ]?out[^.]{0,80}arbitrat|arbitrat[^.]{0,200}opt[- ]?out|right to opt[- ]?out|"
    r"opt[- ]?out provisions",
    re.I | re.S,
)
# An opt-out only from later changes, or only from a mass arbitration, does not count (seventh
# pass, docs/annotation.md): Spotify's change opt-out and its "Option One" after the mediations.
_STAGE_OPTOUT = re.compile(
    r"reject any such change|opt[- ]?out of (those|such|any such) changes|"
    r"global mediation session|mass arbitration",
    re.I,
)


def _mark_optout(rows: list[dict]) -> None:
    """row["doc_optout"]: some gold row of the same platform and document mentions an opt-out from
    arbitration (the document's own text, as far as the gold set holds it)."""
    docs = {
        (r["platform"], r["document"])
        for r in rows
        if _OPTOUT.search(r["text"]) and not _STAGE_OPTOUT.search(r["text"])
    }
    for row in rows:
        row["doc_optout"] = (row["platform"], row["document"]) in docs


def load() -> list[dict]:
    """Every labelled provision with its first-pass label and (if any) its reviewed label."""
    first: dict[str, dict] = {}
    for path in batch_files("labels"):
        for line in path.read_text(encoding="utf-8").splitlines():
            label = json.loads(line)
            first[label["id"]] = label
    review: dict[str, dict] = {}
    review_path = HERE / "labels" / "review.jsonl"
    if review_path.exists():
        for line in review_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                label = json.loads(line)
                review[label["id"]] = label
    rows = []
    for batch in batch_files():
        for line in batch.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["id"] in first:
                row["first"] = first[row["id"]]
                row["review"] = review.get(row["id"])
                row["batch"] = batch.stem
                rows.append(row)
    _mark_twins(rows)
    _mark_optout(rows)
    return rows


def changed(row: dict) -> bool:
    rev = row["review"]
    return rev is not None and any(rev[k] != row["first"][k] for k in FIELDS)


def case_of(row: dict) -> str | None:
    """The case a review label was filed under: its note reads "review: [case] reason"."""
    match = re.match(r"review: \[([\w-]+)\]", (row["review"] or {}).get("note", ""))
    return match.group(1) if match else None


def _fmt(label: dict) -> str:
    neg = " negated" if label["negated"] else ""
    unsure = " unsure" if label["unsure"] else ""
    other = f" +{','.join(label['other'])}" if label["other"] else ""
    return f"{label['main']}{other} [{label['severity']}{neg}{unsure}]"


def show(case: str, rows: list[dict]) -> None:
    title, test = CASES[case]
    hits = [r for r in rows if test(r)]
    print(f"## {case}: {title} ({len(hits)} candidates)\n")
    for r in sorted(hits, key=lambda r: (str(r["first"]["main"]), r["platform"], r["id"])):
        text = " ".join(r["text"].split())[:200]
        line = f"{r['id']}  {r['platform']} / {r['document']}  {_fmt(r['first'])}"
        if changed(r):
            line += f"  ->  {_fmt(r['review'])}"
        if case == "same-text":
            line += f"  (twins: {', '.join(r['twins'])})"
        print(line)
        print(f"    {text}")
    print()


def summary(rows: list[dict]) -> None:
    """Per case: candidates listed, labels changed under that case, and how many of those the
    case's regex had listed (the rest were found by reading neighbouring provisions)."""
    print(f"{'case':<18}{'candidates':>11}{'changed':>9}{'listed':>8}")
    for case, (_, test) in CASES.items():
        hits = {r["id"] for r in rows if test(r)}
        moved = [r for r in rows if changed(r) and case_of(r) == case]
        listed = sum(r["id"] in hits for r in moved)
        print(f"{case:<18}{len(hits):>11}{len(moved):>9}{listed:>8}")
    total = [r for r in rows if changed(r)]
    listed_any = {r["id"] for r in rows if any(t(r) for _, t in CASES.values())}
    print(f"{'all (unique)':<18}{len(listed_any):>11}{len(total):>9}")
    untagged = [r["id"] for r in total if case_of(r) not in CASES]
    if untagged:
        print(f"changed without a known case tag: {', '.join(untagged)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=list(CASES))
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    rows = load()
    if not args.summary:
        for case in [args.case] if args.case else list(CASES):
            show(case, rows)
    summary(rows)


if __name__ == "__main__":
    main()
